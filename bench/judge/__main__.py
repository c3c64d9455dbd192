from __future__ import annotations

import sys

from bench.judge.cli import main

sys.exit(main())
