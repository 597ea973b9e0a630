import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_synthface import shape3d, world
from lsw_synthface.shape3d import EXPRESSION_DIM, IDENTITY_DIM


def neutral(batch=1):
    return torch.zeros(batch, IDENTITY_DIM), torch.zeros(batch, EXPRESSION_DIM), torch.zeros(batch, 3)


def test_model_sizes_meet_the_contract():
    assert IDENTITY_DIM >= 10 and EXPRESSION_DIM >= 6
    assert shape3d.IDENTITY_BASIS.shape == (IDENTITY_DIM, shape3d.N_POINTS, 3)
    assert shape3d.EXPRESSION_BASIS.shape == (EXPRESSION_DIM, shape3d.N_POINTS, 3)
    # every component moves something, and no two components are the same displacement
    flat = torch.cat([shape3d.IDENTITY_BASIS, shape3d.EXPRESSION_BASIS]).flatten(1)
    assert (flat.norm(dim=1) > 0.01).all()
    assert torch.linalg.matrix_rank(flat) == IDENTITY_DIM + EXPRESSION_DIM


def test_mean_shape_follows_ibug_order_on_screen():
    lm = world.project_landmarks(*neutral())[0]
    x, y = lm[:, 0], lm[:, 1]
    assert x[0] < x[8] < x[16] and y[8] > y[0] and y[8] > y[16]  # jaw: left ear, chin, right ear
    assert (x[1:9] > x[:8]).all() and (x[9:17] > x[8:16]).all()
    assert x[17] < x[21] < x[22] < x[26]  # brows, viewer's left first
    assert (y[17:27] < y[36:48].min()).all()  # brows above the eyes
    assert (y[27:31].diff() > 0).all()  # nose bridge runs down to the tip
    assert x[36] < x[39] < x[42] < x[45]  # eye corners
    assert y[48:68].min() > y[31:36].max()  # mouth below the nostrils
    assert x[48] < x[51] < x[54] and y[57] > y[66] >= y[62] > y[51]
    mirrored = lm.clone()
    mirrored[:, 0] = 1 - mirrored[:, 0]
    eyes = [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    lips = [*range(54, 47, -1), *range(59, 54, -1), *range(64, 59, -1), 67, 66, 65]
    order = [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1), *eyes, *lips]
    assert torch.allclose(mirrored[order], lm, atol=1e-5)  # the neutral face is symmetric


@settings(max_examples=30, deadline=None)
@given(st.floats(-80, 80), st.floats(-80, 80), st.floats(-80, 80))
def test_euler_inverts_rotation(yaw, pitch, roll):
    pose = torch.tensor([[yaw, pitch, roll]], dtype=torch.float64)
    rot = shape3d.rotation(pose)
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(shape3d.euler(rot), pose, atol=1e-8)


def test_pose_conventions():
    i, e, _ = neutral()
    base = world.project_landmarks(i, e, torch.zeros(1, 3))[0, 30]
    yaw = world.project_landmarks(i, e, torch.tensor([[20.0, 0, 0]]))[0, 30]
    pitch = world.project_landmarks(i, e, torch.tensor([[0, 20.0, 0]]))[0, 30]
    assert yaw[0] > base[0] + 0.02  # positive yaw: the nose tip moves to the viewer's right
    assert pitch[1] < base[1] - 0.02  # positive pitch: it moves up
    lm = world.project_landmarks(i, e, torch.tensor([[0, 0, 30.0]]))[0]
    eye_l, eye_r = lm[36:42].mean(0), lm[42:48].mean(0)
    slope = torch.rad2deg(torch.atan2(-(eye_r[1] - eye_l[1]), eye_r[0] - eye_l[0]))
    assert abs(slope - 30) < 0.5  # positive roll: counter-clockwise on screen


def test_expressions_do_what_their_names_say():
    i, e, p = neutral()

    def lm(name, value=1.0):
        ex = e.clone()
        ex[0, shape3d.EXPRESSION_NAMES.index(name)] = value
        return world.project_landmarks(i, ex, p)[0]

    rest = lm("smile", 0.0)
    assert lm("smile")[[48, 54], 1].mean() < rest[[48, 54], 1].mean() - 0.01  # corners up
    assert (lm("jaw_open")[66, 1] - lm("jaw_open")[62, 1]) > (rest[66, 1] - rest[62, 1]) + 0.03
    inner_brows = [20, 21, 22, 23]
    assert lm("brow_raise")[inner_brows, 1].mean() < rest[inner_brows, 1].mean() - 0.01
    closed = lm("blink")
    assert (closed[[40, 41], 1] - closed[[37, 38], 1]).max() < 0.005  # lids meet


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_prior_landmarks_stay_in_the_image(seed):
    p = world.sample_params(512, torch.Generator().manual_seed(seed))
    lm = world.project_landmarks(p.identity, p.expression, p.pose)
    assert lm.shape == (512, 68, 2)
    inside = ((lm > 0) & (lm < 1)).flatten(1).all(1)
    assert inside.float().mean() > 0.99  # only rare joint extremes (long chin, open jaw, pitch) leave it
    assert lm.min() > -0.1 and lm.max() < 1.1


def test_identity_can_be_read_from_one_image_under_any_expression_and_pose():
    """The design rule of the identity basis: from the drawn landmarks of one face, with half a
    pixel of noise at 64 px and unknown expression and pose (their prior spreads), every identity
    coefficient is determined to within a quarter of its prior spread (Gaussian posterior of the
    linearised projection: no expression or pose imitates an identity coefficient)."""
    drawn = shape3d.JAW + shape3d.SKULL + shape3d.EARS + [27, 30, 31, 32, 33, 34, 35, 48, 51, 54, 57, 62, 66]
    drawn += list(range(36, 48)) + [17, 19, 21, 22, 24, 26]
    ni, ne = IDENTITY_DIM, EXPRESSION_DIM
    prior_var = torch.cat([torch.ones(ni), torch.full((ne,), 0.3), torch.tensor([15.0, 10.0, 7.0]) ** 2])
    p = world.sample_params(16, torch.Generator().manual_seed(0))
    posterior_std = []
    for k in range(len(p)):
        x = torch.cat([p.identity[k], p.expression[k], p.pose[k]])

        def points(x):
            return world.project_points(x[None, :ni], x[None, ni : ni + ne], x[None, ni + ne :])[0, drawn, :2].flatten()

        jac = torch.autograd.functional.jacobian(points, x)
        information = jac.T @ jac / (0.5 / 64) ** 2 + torch.diag(1 / prior_var)
        posterior_std.append(torch.linalg.inv(information).diagonal()[:ni].sqrt())
    worst = torch.stack(posterior_std).mean(0)
    assert worst.max() < 0.25, dict(zip(shape3d.IDENTITY_NAMES, worst.tolist()))
