"""Start the patient chat UI: build settings, build the chain (indexing first if needed), launch."""

from assistant.settings import Settings, set_offline_env


def main() -> None:
    set_offline_env()
    from assistant.ui import serve

    serve(Settings.from_env())


if __name__ == "__main__":
    main()
