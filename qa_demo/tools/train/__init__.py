"""Training: fine-tune QA/NER models (``qa-demo train``) and pretrain a Japanese encoder
(``qa-demo pretrain``) on the CPU, then export them as model directories.

config (what a run is) -> data (examples -> windows -> labelled features) -> models (the
base) -> loop (start or resume, eval, write the model directory) -> fit (the optimisation steps
and their checkpoints) ; lrsearch ; cli ; limit_cli (a trained model's answer-length limit).
pretrain, mlm_data, mlm_model and checkpoint are the masked-LM pretraining.
"""

from .config import SCRATCH_JA, ScratchConfig, TrainConfig, TrainResult
from .loop import train

__all__ = ["SCRATCH_JA", "ScratchConfig", "TrainConfig", "TrainResult", "train"]
