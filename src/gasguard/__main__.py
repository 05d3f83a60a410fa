"""Allow ``python -m gasguard``."""

from gasguard.cli import main

if __name__ == "__main__":
    main()
