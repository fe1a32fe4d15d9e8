import numpy as np
import pytest

from mfinpaint.errors import InvalidParameterError
from mfinpaint.experiment import run_experiment
from mfinpaint.io import read_image

# RSE on the missing pixels from the published algorithm on the panda, by
# (lam, rank).
PUBLISHED_RSE = {
    (10.0, 5): 0.242,
    (10.0, 10): 0.184,
    (10.0, 50): 0.129,
    (1e-10, 5): 0.269,
    (1e-10, 10): 0.245,
    (1e-10, 50): 0.257,
}


@pytest.fixture(scope="module")
def default_runs():
    _, _, runs = run_experiment()
    return {(run.lam, run.rank): run.rse for run in runs}


@pytest.mark.parametrize("rank", [5, 10, 50])
def test_smoothing_beats_none_on_default_image(default_runs, rank):
    assert default_runs[(10.0, rank)] < default_runs[(1e-10, rank)]


def test_rank_helps_with_smoothing_on_default_image(default_runs):
    assert default_runs[(10.0, 50)] < default_runs[(10.0, 5)]


def test_panda_reproduces_published_table(panda_path):
    _, _, runs = run_experiment(read_image(panda_path), solver="cg")

    for run in runs:
        assert run.rse == pytest.approx(PUBLISHED_RSE[(run.lam, run.rank)], abs=0.01)


def test_exact_solver_on_panda_reaches_published_error(panda_path):
    _, _, runs = run_experiment(
        read_image(panda_path), ranks=[50], lams=[10.0], solver="exact"
    )

    assert runs[0].rse <= 0.129


def test_experiment_mask_is_published_rule():
    truth, mask, _ = run_experiment(
        np.random.default_rng(0).random((40, 30)), ranks=[2], lams=[1.0], max_iter=2
    )

    u = np.random.RandomState(1).rand(40, 30)
    kept = np.round(u + 0.5 - 0.9) == 1
    np.testing.assert_array_equal(mask, ~kept)


@pytest.mark.parametrize(
    "missing_rate, message", [(0.0, "hides no pixel"), (0.99999, "hides every pixel")]
)
def test_experiment_mask_without_pixels_to_score(missing_rate, message):
    image = np.linspace(0.1, 0.9, 16).reshape(4, 4)

    with pytest.raises(InvalidParameterError, match=message):
        run_experiment(
            image, ranks=[1], lams=[1.0], missing_rate=missing_rate, max_iter=2
        )


def test_experiment_weight_above_limit():
    image = np.linspace(0.1, 0.9, 16).reshape(4, 4)

    with pytest.raises(InvalidParameterError, match="lam must be at most"):
        run_experiment(image, ranks=[1], lams=[1e200], max_iter=2)
