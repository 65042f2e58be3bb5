from ops.storm.run import main

main()
