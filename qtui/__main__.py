from qtui.cli.main import main

raise SystemExit(main())
