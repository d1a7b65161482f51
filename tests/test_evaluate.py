import numpy as np
import pytest

from denoiser.baselines import METHODS, classical_denoise
from denoiser.evaluate import awgn, evaluate
from denoiser.metrics import psnr

from conftest import data_dir


def clean_images():
    from skimage import data

    return [data.astronaut()[:96, :128], data.coffee()[:80, :96]]


def test_awgn_protocol_is_seeded_per_image_and_unclipped():
    image = np.zeros((64, 64, 3), np.uint8)
    a, b = awgn(image, 25, 0, 0), awgn(image, 25, 0, 1)
    assert np.array_equal(a, awgn(image, 25, 0, 0)) and not np.array_equal(a, b)
    assert a.min() < 0 and a.dtype == np.float32
    assert a.std() == pytest.approx(25 / 255, rel=0.05)


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"noisy"}))
def test_every_classical_method_beats_the_noisy_input(method):
    image = clean_images()[0]
    noisy = awgn(image, 25, 0, 0)
    out = classical_denoise(noisy, method, 25)
    assert out.shape == image.shape and np.isfinite(out).all()
    assert psnr(image, out) > psnr(image, noisy) + 1


def test_noisy_reference_row_is_the_input_and_sigma_zero_is_allowed():
    image = clean_images()[1]
    noisy = awgn(image, 10, 0, 0)
    assert np.array_equal(classical_denoise(noisy, "noisy", 10), noisy)
    for method in METHODS:
        assert classical_denoise(image / 255, method, 0).shape == image.shape


def test_evaluate_records_and_noisy_baseline_consistency():
    images = clean_images()
    records = evaluate("wavelet", clean=images, sigmas=[15, 50], seed=3)
    assert [r.sigma for r in records] == [15, 50] and all(r.n == 2 for r in records)
    assert records[0].psnr > records[1].psnr and records[0].mp_per_s > 0
    expected = np.mean([psnr(img, classical_denoise(awgn(img, 15, 3, i), "wavelet", 15)) for i, img in enumerate(images)])
    assert records[0].psnr == pytest.approx(expected)
    assert set(records[0].summary()) == {"dataset", "sigma", "method", "n", "psnr", "ssim", "mp_per_s"}


def test_evaluate_pairs_folder(tmp_path):
    from denoiser.io import write_image

    for name, image in zip(("a.png", "b.png"), clean_images()):
        noisy = np.clip(np.rint(awgn(image, 20, 0, 0) * 255), 0, 255).astype(np.uint8)
        write_image(tmp_path / "gt" / name, image)
        write_image(tmp_path / "noisy" / name, noisy)
    (record,) = evaluate("nlmeans", pairs=tmp_path)
    assert record.sigma is None and record.n == 2 and record.dataset == tmp_path.name
    (tmp_path / "noisy" / "b.png").rename(tmp_path / "noisy" / "c.png")
    with pytest.raises(ValueError, match="no partner"):
        evaluate("nlmeans", pairs=tmp_path)


def crops(folder: str, count: int, size: int = 96) -> list[np.ndarray]:
    """Centre crops of the first `count` images of a shared data set (skips where it is absent)."""
    from denoiser.io import list_images, read_image

    images = [read_image(p) for p in list_images(data_dir(folder))[:count]]
    return [img[img.shape[0] // 2 - size // 2 :][:size, img.shape[1] // 2 - size // 2 :][:, :size] for img in images]


def noisy_psnr(images, sigma: float, seed: int = 0) -> float:
    return float(np.mean([psnr(img, awgn(img, sigma, seed, i)) for i, img in enumerate(images)]))


@pytest.fixture(scope="module")
def gaussian_model():
    import denoiser

    return denoiser.load_model("gaussian")


def test_evaluate_with_a_model(gaussian_model):
    """The shipped gaussian model on two CBSD68 crops at sigma 25: a real gain over the noisy input
    (measured +9 dB; a model that returns its input, or a wrong sigma, scores far less)."""
    images = crops("CBSD68", 2)
    (record,) = evaluate(gaussian_model, clean=images, sigmas=[25])
    assert record.n == 2 and record.sigma == 25 and record.method == "gaussian"
    assert record.psnr > noisy_psnr(images, 25) + 6, record
    assert 0.6 < record.ssim <= 1


def test_colour_model_on_gray_images(gaussian_model):
    """A gray image goes through the colour model as three identical planes, whose noise is
    identical too; the model must be told sqrt(3) sigma (denoiser.inference._model_input). Six BSD68
    crops at sigma 25: 28.9 dB with it, 23.8 dB when the model is told plain sigma."""
    images = crops("BSD68", 6)
    assert images[0].ndim == 2
    (record,) = evaluate(gaussian_model, clean=images, sigmas=[25])
    assert record.psnr > 27, record
    assert record.psnr > noisy_psnr(images, 25) + 6.5


def test_blind_evaluation_hides_sigma_from_the_method(gaussian_model, monkeypatch):
    import denoiser.evaluate as evaluate_module

    images = crops("CBSD68", 2)
    told = []
    real_denoise = evaluate_module.denoise

    def spy(noisy, model, sigma=None, **kwargs):
        told.append(sigma)
        return real_denoise(noisy, model, sigma=sigma, **kwargs)

    monkeypatch.setattr(evaluate_module, "denoise", spy)
    (blind,) = evaluate(gaussian_model, clean=images, sigmas=[25], blind=True)
    assert told == [None, None] and blind.sigma == 25  # the record still names the true level
    told.clear()
    (informed,) = evaluate(gaussian_model, clean=images, sigmas=[25])
    assert told == [25, 25]
    # the model's own estimate is close to the truth: blind costs little, but it is not the same run
    assert blind.psnr != informed.psnr and abs(blind.psnr - informed.psnr) < 1
    assert blind.psnr > noisy_psnr(images, 25) + 6
    # classical methods estimate sigma themselves when blind
    (wavelet_blind,) = evaluate("wavelet", clean=clean_images(), sigmas=[25], blind=True)
    (wavelet,) = evaluate("wavelet", clean=clean_images(), sigmas=[25])
    assert wavelet_blind.psnr != wavelet.psnr and abs(wavelet_blind.psnr - wavelet.psnr) < 1.5


def test_bad_requests():
    with pytest.raises(ValueError, match="exactly one"):
        evaluate("tv")
    with pytest.raises(ValueError, match="unknown method"):
        evaluate("bm3d", clean=clean_images())


def test_nlmeans_on_cbsd68_matches_the_measured_anchor():
    from denoiser.io import list_images, read_image

    folder = data_dir("CBSD68")
    (record,) = evaluate("nlmeans", clean=folder, sigmas=[25], limit=4)
    images = [read_image(p) for p in list_images(folder)[:4]]
    noisy = np.mean([psnr(img, awgn(img, 25, 0, i)) for i, img in enumerate(images)])
    assert record.psnr > noisy + 5  # NOTES: 28.40 dB vs 20.54 dB over all 68 images


# ------------------------------------------------------------------ scenes and the standard split


def test_scene_of_strips_the_crop_number():
    from denoiser.splits import scene_of

    assert scene_of("Canon5D2_5_160_3200_chair_11.jpg") == "Canon5D2_5_160_3200_chair"
    assert scene_of("Canon600D_3-5_125_1600_waterhouse_10.jpg") == "Canon600D_3-5_125_1600_waterhouse"
    # PolyU has one crop with a doubled separator: it belongs to the same scene as plant_1, plant_3...
    assert scene_of("NikonD800_6-3_125_5000_plant__4.jpg") == scene_of("NikonD800_6-3_125_5000_plant_1.jpg")
    assert scene_of("scene-3.png") == "scene" and scene_of("photo.png") == "photo" and scene_of("123.png") == "123"


def test_scene_split_never_puts_a_scene_on_both_sides():
    from denoiser.splits import scene_of, scene_split

    rng = np.random.default_rng(0)
    for trial in range(50):
        scenes = [f"cam{trial}_{i}_scene{chr(97 + i)}" for i in range(int(rng.integers(2, 12)))]
        names = sorted({f"{s}{'__' if rng.random() < 0.3 else '_'}{int(rng.integers(1, 20))}.png"
                        for s in scenes for _ in range(int(rng.integers(1, 4)))})
        train, test = scene_split(names)
        assert sorted(train + test) == names and test and train
        assert {scene_of(n) for n in train}.isdisjoint({scene_of(n) for n in test}), names
        assert scene_split(list(reversed(names)))[1] == list(reversed(test))  # fixed: order, not luck
    for one_scene in (["a_1.png", "a_2.png"], ["a_1.png", "a__2.png"]):  # one scene: nothing to hold out
        assert scene_split(one_scene) == (one_scene, [])


# The PolyU test scenes of the standard split. The shipped models were trained on the train part
# (--pairs-split train): a change to scene_of or scene_split that moves a scene would put training
# scenes into the reported test scores.
POLYU_TEST_SCENES = {
    "Canon5D2_5_160_6400_reciever", "Canon5D2_5_200_3200_fruit", "Canon80D_8_8_3200_ball",
    "NikonD800_11_160_3200_classroom", "NikonD800_4-5_160_1800_classroom", "NikonD800_5_100_4000_flower",
    "Sony_3-5_200_1600_classroom", "Sony_4-5_125_3200_plant", "Sony_4-5_125_6400_waterhouse",
}


def test_polyu_split_is_the_recorded_one_and_keeps_test_scenes_out():
    from denoiser.splits import pair_paths, scene_of, scene_split
    from denoiser_train.data import find_pairs

    folder = data_dir("real/PolyU")
    names = sorted(p.name for p in (folder / "noisy").iterdir())
    train, test = scene_split(names)
    assert {scene_of(n) for n in test} == POLYU_TEST_SCENES and len(test) == 34 and len(train) == 66
    assert {scene_of(n) for n in train}.isdisjoint(POLYU_TEST_SCENES)
    assert "NikonD800_6-3_125_5000_plant__4.jpg" in train and "NikonD800_6-3_125_5000_plant_1.jpg" in train
    assert [n.name for n, _ in pair_paths(folder, "test")] == test
    assert [n.name for n, _ in pair_paths(folder, "train")] == train
    # the trainer's --pairs-split train sees exactly the train part, keyed by the same scenes
    found = find_pairs(folder, "train")
    assert [n.name for n, *_ in found] == train and {s for *_, s in found}.isdisjoint(POLYU_TEST_SCENES)
