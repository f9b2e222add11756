"""The baseline for requests/s: a bare Flask app served with the same gunicorn settings."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(hello="world")
