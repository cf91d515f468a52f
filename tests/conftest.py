import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import toysystem  # noqa: F401  (registers the "toy" system)
