from common.server import run

run("auth.main:app", default_port=8081)
