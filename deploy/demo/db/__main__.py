from common.server import run

run("db.main:app", default_port=8082)
