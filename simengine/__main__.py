from simengine.cli import main

raise SystemExit(main())
