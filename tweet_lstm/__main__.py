"""``python -m tweet_lstm``: the ``data``, ``train`` and ``generate`` commands (see ``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
