"""``python -m drone_patrol`` runs the command-line interface."""

from drone_patrol.cli import main

if __name__ == "__main__":
    main()
