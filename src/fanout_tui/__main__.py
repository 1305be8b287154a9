from fanout_tui.cli import main

raise SystemExit(main())
