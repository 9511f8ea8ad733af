"""``python -m seg_perception.tools.tracking_eval``: the same as ``evaluate tracking``."""

from seg_perception.tools.tracking_eval.command import main

raise SystemExit(main())
