"""Start the patient chat UI: build settings, build the chain (indexing first if needed), launch.

    python app.py [--host 127.0.0.1] [--port 7860]      (same as `assistant serve`)
"""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
