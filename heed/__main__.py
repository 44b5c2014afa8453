from heed.cli import main

raise SystemExit(main())
