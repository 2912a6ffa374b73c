// The `shale` command-line tool; see CLI.swift for the commands.
Exit.run()
