from databoard.cli.main import main

main()
