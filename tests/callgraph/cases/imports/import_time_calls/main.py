import plugins
from plugins.registry import register as add_plugin

add_plugin("extra")
