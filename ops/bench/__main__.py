from ops.bench.run import main

main()
