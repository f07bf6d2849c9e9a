from .base import Service
