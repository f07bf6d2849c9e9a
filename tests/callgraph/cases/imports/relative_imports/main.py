from app.core.engine import run

run()
