from ..core import helper
