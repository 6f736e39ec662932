"""Training: fine-tune QA/NER models (``qa-demo train``) and pretrain a Japanese encoder
(``qa-demo pretrain``) on the CPU, then export them as model directories.

config (what a run is) -> data (examples -> windows -> labelled features) -> models (the
base) -> loop (fit, eval, write the model directory) ; lrsearch ; cli. pretrain, mlm_data and
checkpoint are the masked-LM pretraining.
"""

from .config import SCRATCH_JA, ScratchConfig, TrainConfig, TrainResult
from .loop import train

__all__ = ["SCRATCH_JA", "ScratchConfig", "TrainConfig", "TrainResult", "train"]
