from .api import helper
