from townhall.cli import main

main()
