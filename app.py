"""Start the patient chat page and the HTTP API: build settings, build the chain (indexing first if needed), serve.

    python app.py [--host 127.0.0.1] [--port 7860] [--workers 1]      (same as `assistant serve`)
"""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
