"""``python -m transcoder``: run one worker (same as the ``pantau-transcoder`` script)."""

from transcoder.worker import main

raise SystemExit(main())
