"""ClassifierHead rows=: logits over a class subset equal a head built from those rows."""
import copy

import pytest
import torch
import torch.nn.functional as F

from lidtool.losses.base import build_head

C, D = 6, 5
ROWS = torch.tensor([4, 0, 5, 2])
HEADS = {"softmax": {}, "linear": {}, "am_softmax": {"margin": 0.3},
         "aam_softmax": {"margin": 0.3}, "apm_am_softmax": {"margin": 0.2, "beta": 2.0},
         "apm_aam_softmax": {"margin": 0.2, "beta": 2.0}, "sphereface": {}, "adacos": {}}


def aux_for(name, batch):
    return {"phone_conf": torch.linspace(0.1, 0.3, batch)} if name.startswith("apm") else {}


def subset_head(name, head, rows):
    """A head of len(rows) classes whose class rows are head's rows `rows`."""
    sub = build_head(name, D, len(rows), **HEADS[name])
    state = {k: (v[rows] if v.dim() and v.shape[0] == C else v)
             for k, v in head.state_dict().items()}
    sub.load_state_dict(state)
    return sub


@pytest.mark.parametrize("name", sorted(HEADS))
def test_rows_equal_a_head_of_the_kept_rows(name):
    torch.manual_seed(0)
    head = build_head(name, D, C, **HEADS[name])
    sub = subset_head(name, head, ROWS)
    emb = torch.randn(7, D)
    labels = torch.tensor([0, 1, 2, 3, 3, 1, 0])     # remapped ids into ROWS
    aux = aux_for(name, 7)
    if name == "sphereface":
        head.update_step(200)
        sub.update_step(200)
    # AdaCos updates its scale on every training call: each call starts from the same state
    got = copy.deepcopy(head)(emb, labels, rows=ROWS, **aux)
    assert got.shape == (7, len(ROWS))
    assert torch.allclose(got, sub(emb, labels, **aux), atol=1e-5)
    # inference (no labels): plain scores of the kept classes, in the order of rows
    assert torch.allclose(head(emb, rows=ROWS), head(emb)[:, ROWS], atol=1e-6)
    # the margin lands on the remapped target: the full head with the class ids agrees
    if name != "adacos":     # its full-class scale update sums over the dropped rows too
        full = head(emb, ROWS[labels], **aux)
        assert torch.allclose(got, full[:, ROWS], atol=1e-5)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_dropped_rows_get_no_gradient(name):
    torch.manual_seed(1)
    head = build_head(name, D, C, **HEADS[name])
    emb = torch.randn(4, D, requires_grad=True)
    labels = torch.tensor([0, 3, 2, 1])
    F.cross_entropy(head(emb, labels, rows=ROWS, **aux_for(name, 4)), labels).backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    dropped = sorted(set(range(C)) - set(ROWS.tolist()))
    for pname, p in head.named_parameters():
        if p.shape[0] == C:
            assert p.grad[dropped].abs().sum() == 0, pname
            assert p.grad[ROWS].abs().sum() > 0, pname


def test_rows_combine_with_active_classes():
    torch.manual_seed(2)
    head = build_head("am_softmax", D, C, margin=0.2)
    head.set_active_classes([0, 2, 4])
    emb = torch.randn(3, D)
    logits = head(emb, torch.tensor([0, 1, 3]), rows=ROWS)       # class 5 is inactive
    assert torch.isinf(logits[:, 2]).all() and torch.isfinite(logits[:, [0, 1, 3]]).all()
    with pytest.raises(ValueError, match="inactive"):
        head(emb, torch.tensor([2, 0, 1]), rows=ROWS)             # row 5 is inactive


@pytest.mark.parametrize("rows, match", [
    (torch.tensor([0, 6]), r"\[0, 6\)"), (torch.tensor([1, 1]), "repeat"),
    (torch.tensor([], dtype=torch.long), "non-empty"), (torch.tensor([0.0, 1.0]), "LongTensor"),
    (torch.tensor([[0, 1]]), "1-D")])
def test_bad_rows_are_refused(rows, match):
    head = build_head("softmax", D, C)
    with pytest.raises(ValueError, match=match):
        head(torch.randn(2, D), rows=rows)


def test_labels_must_be_remapped_ids():
    head = build_head("aam_softmax", D, C)
    with pytest.raises(ValueError, match=r"remapped ids in \[0, 4\)"):
        head(torch.randn(2, D), torch.tensor([0, 5]), rows=ROWS)


def test_model_forward_passes_rows_to_the_head():
    from lidtool.nnet.model import build_model
    torch.manual_seed(3)
    model = build_model({"name": "tdnn", "channels": 8, "stats_channels": 8, "hidden": [6]},
                        {"name": "am_softmax", "margin": 0.2}, 10, C).eval()
    x, y = torch.randn(2, 30, 10), torch.tensor([1, 3])
    got = model(x, y, rows=ROWS)
    assert got.shape == (2, 4)
    assert torch.allclose(got, model(x, ROWS[y])[:, ROWS])
