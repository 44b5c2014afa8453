"""How much the roles that look ahead flattered a model: its validation loss on a corpus fed the
roles the model reads today (each from the text up to its token) and fed the parsed ones (from the
whole statement, what models before tokenizer heed-tokens-2 were trained on).

    python bench/role_leak.py --corpus runs/corpus-c1 MODEL...   (docs/MODEL_CARD.md, stage 10)
"""

from __future__ import annotations

import argparse

import torch

from heed.model.training.config import TrainConfig
from heed.model.training.train import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders (an earlier tokenizer's with the same keys too)")
    parser.add_argument("--corpus", required=True, help="a corpus built by heed-tokens-2 (it holds both roles)")
    parser.add_argument("--tokens", type=int, default=200_000, help="validation tokens (the trainer's default)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for model in args.models:
        trainer = Trainer(TrainConfig(corpus=args.corpus, out="/tmp/heed-role-leak", init_from=model, far=512,
                                      device="cpu", eval_tokens=args.tokens))
        causal = trainer.validate()
        trainer.valid_split.roles = trainer.valid_split.parsed
        parsed = trainer.validate()
        print(f"{model}: fed the roles it reads today: loss {causal['val_loss']:.3f}, top-1 {causal['val_acc']:.1%}; "
              f"fed the parsed roles: loss {parsed['val_loss']:.3f}, top-1 {parsed['val_acc']:.1%}")


if __name__ == "__main__":
    main()
