import numpy as np

from caelatent.data import synthetic


def test_deterministic_and_independent_of_batching():
    a, attr_a = synthetic.render_faces(np.arange(0, 12), 64, seed=3)
    b, attr_b = synthetic.render_faces(np.arange(6, 12), 64, seed=3)
    assert (a[6:] == b).all() and (attr_a[6:] == attr_b).all()
    c, _ = synthetic.render_faces(np.arange(0, 12), 64, seed=4)
    assert not (a == c).all()


def test_images_vary_and_have_requested_size():
    for size in (64, 96, 128):
        imgs, attrs = synthetic.render_faces(np.arange(8), size, seed=0)
        assert imgs.shape == (8, size, size, 3) and imgs.dtype == np.uint8
        assert attrs.shape == (8, len(synthetic.ATTRIBUTES)) and set(np.unique(attrs)) <= {-1, 1}
    # different faces, not one template
    assert np.abs(imgs[0].astype(int) - imgs[1].astype(int)).mean() > 10


def test_attributes_are_correlated_as_in_real_faces():
    n = 3000
    attrs = (
        np.array(
            [
                synthetic.attributes_of(synthetic.sample_factors(np.random.default_rng([0, i])))
                for i in range(n)
            ]
        )
        > 0
    )
    col = {name: attrs[:, k] for k, name in enumerate(synthetic.ATTRIBUTES)}
    male, young = col["Male"], col["Young"]
    assert 0.35 < male.mean() < 0.5
    assert col["Bald"][male & ~young].mean() > 5 * col["Bald"][~male].mean()
    assert col["Gray_Hair"][~young].mean() > 0.3 > col["Gray_Hair"][young].mean()
    assert (
        not (col["Wearing_Lipstick"] & male).any() and col["Wearing_Lipstick"][~male].mean() > 0.5
    )
    assert (
        col["Mouth_Slightly_Open"][col["Smiling"]].mean()
        > 3 * col["Mouth_Slightly_Open"][~col["Smiling"]].mean()
    )
    assert col["Blond_Hair"][col["Pale_Skin"]].mean() > col["Blond_Hair"][~col["Pale_Skin"]].mean()
    # every bald face has no hair colour
    hair = col["Black_Hair"] | col["Blond_Hair"] | col["Brown_Hair"] | col["Gray_Hair"]
    assert not (hair & col["Bald"]).any()


def test_attributes_show_in_the_pixels():
    """Smiling faces have a bright (teeth) or red mouth region; glasses darken the eye band."""
    idx = np.arange(400)
    imgs, attrs = synthetic.render_faces(idx, 64, seed=1)
    names = list(synthetic.ATTRIBUTES)
    blond = attrs[:, names.index("Blond_Hair")] > 0
    black = attrs[:, names.index("Black_Hair")] > 0
    top = imgs[:, 8:20, 24:40].astype(float).mean(axis=(1, 2, 3))  # hair above the forehead
    assert top[blond].mean() > top[black].mean() + 40
