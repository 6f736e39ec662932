"""Hugging Face Spaces entry point: read models/, build the UI, launch."""

from qa_demo.app.serve import build_app, launch

demo = build_app()

if __name__ == "__main__":
    launch(demo)
