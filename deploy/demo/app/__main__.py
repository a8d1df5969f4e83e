from common.server import run

run("app.main:app", default_port=8080)
