"""Hugging Face Spaces entry point: build the pipelines, build the UI, launch."""

from qa_demo.ui import build_app

demo = build_app()

if __name__ == "__main__":
    demo.launch()
