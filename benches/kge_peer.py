"""PyKEEN side of benches/kge.rs: trains and evaluates TransE with the given hyperparameters.

Reads a JSON job from argv[1] (paths of clean train/valid/test TSVs and the hyperparameters),
prints one JSON line with throughput, evaluation time and filtered test metrics (realistic ranks,
both directions, train + valid + test filtered: the same protocol as `stocktake eval`). With
"eval_every" set it instead prints the validation curve (MRR filtered by train + valid every that
many epochs, with the training seconds so far, evaluation excluded) and never touches test.
Run by the bench through runtime/peers/pykeen (scripts/install-peers --pykeen).
"""
import json
import sys
import time

import torch

job = json.loads(open(sys.argv[1]).read())
torch.set_num_threads(job["threads"])
torch.manual_seed(job["seed"])

from pykeen.evaluation import RankBasedEvaluator  # noqa: E402
from pykeen.losses import CrossEntropyLoss, MarginRankingLoss  # noqa: E402
from pykeen.models import TransE  # noqa: E402
from pykeen.training import SLCWATrainingLoop  # noqa: E402
from pykeen.training.callbacks import TrainingCallback  # noqa: E402
from pykeen.triples import TriplesFactory  # noqa: E402

train = TriplesFactory.from_path(job["train"])
valid = TriplesFactory.from_path(
    job["valid"], entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
)
test = TriplesFactory.from_path(
    job["test"], entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
)
model = TransE(
    triples_factory=train,
    embedding_dim=job["dim"],
    scoring_fct_norm=1 if job["norm"] == "l1" else 2,
    # "softmax": cross-entropy of each positive against its negatives (PyKEEN's setwise loss).
    loss=CrossEntropyLoss() if job.get("loss") == "softmax" else MarginRankingLoss(margin=job["margin"]),
    random_seed=job["seed"],
)
optimizers = {"adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
optimizer = optimizers[job["optimizer"]](model.parameters(), lr=job["lr"])
loop = SLCWATrainingLoop(
    model=model,
    triples_factory=train,
    optimizer=optimizer,
    negative_sampler="bernoulli" if job["sampler"] == "bernoulli" else "basic",
    negative_sampler_kwargs=dict(num_negs_per_pos=job["negatives"]),
)


class Curve(TrainingCallback):
    """Validation MRR every `every` epochs, with the training seconds so far (evaluation excluded)."""

    def __init__(self, every):
        super().__init__()
        self.every, self.points, self.seconds = every, [], 0.0
        self.last = time.perf_counter()

    def post_epoch(self, epoch, epoch_loss, **kwargs):
        self.seconds += time.perf_counter() - self.last
        if epoch % self.every == 0:
            r = RankBasedEvaluator(filtered=True).evaluate(
                model,
                valid.mapped_triples,
                additional_filter_triples=[train.mapped_triples],
                batch_size=job.get("eval_batch_size", 256),
                use_tqdm=False,
            )
            mrr = float(r.get_metric("both.realistic.inverse_harmonic_mean_rank"))
            self.points.append({"epoch": epoch, "train_seconds": self.seconds, "valid_mrr": mrr})
            print(f"  pykeen    epoch {epoch:>4}  {self.seconds:>8.1f} s  valid MRR {mrr:.4f}", file=sys.stderr, flush=True)
        self.last = time.perf_counter()


every = job.get("eval_every", 0)
curve = Curve(every) if every else None
t0 = time.perf_counter()
losses = loop.train(
    triples_factory=train,
    num_epochs=job["epochs"],
    batch_size=job["batch_size"],
    use_tqdm=False,
    use_tqdm_batch=False,
    callbacks=[curve] if curve else None,
)
train_seconds = curve.seconds if curve else time.perf_counter() - t0
if curve:
    # The quality mode: the validation curve is the result; the test split is not touched.
    print(json.dumps({"train_seconds": train_seconds, "epochs": job["epochs"], "curve": curve.points}))
    sys.exit(0)

evaluator = RankBasedEvaluator(filtered=True)
t0 = time.perf_counter()
result = evaluator.evaluate(
    model,
    test.mapped_triples,
    additional_filter_triples=[train.mapped_triples, valid.mapped_triples],
    batch_size=job.get("eval_batch_size", 256),
    use_tqdm=False,
)
eval_seconds = time.perf_counter() - t0
metric = lambda name: float(result.get_metric(f"both.realistic.{name}"))  # noqa: E731
print(
    json.dumps(
        {
            "train_seconds": train_seconds,
            "epochs": job["epochs"],
            "train_triples": int(train.num_triples),
            "triples_per_s": job["epochs"] * int(train.num_triples) / train_seconds,
            "final_loss": float(losses[-1]),
            "eval_seconds": eval_seconds,
            "test_triples": int(test.num_triples),
            "mrr": metric("inverse_harmonic_mean_rank"),
            "hits@10": metric("hits_at_10"),
        }
    )
)
