//! ew:: against float64 references on fresh random data, and its bad input.
mod common;

use blocksparse::ew::{self, Activation, BinaryOp, UnaryOp};
use blocksparse::{BFloat16, Status};
use common::*;

const BINARY: [BinaryOp; 6] =
    [BinaryOp::Add, BinaryOp::Subtract, BinaryOp::Multiply, BinaryOp::Divide, BinaryOp::Maximum, BinaryOp::Minimum];

fn binary_ref(op: BinaryOp, x: f64, y: f64) -> (f64, f64, f64) {
    // (z, dz/dx, dz/dy)
    match op {
        BinaryOp::Add => (x + y, 1.0, 1.0),
        BinaryOp::Subtract => (x - y, 1.0, -1.0),
        BinaryOp::Multiply => (x * y, y, x),
        BinaryOp::Divide => (x / y, 1.0 / y, -x / (y * y)),
        BinaryOp::Maximum => (x.max(y), (x >= y) as i32 as f64, (x < y) as i32 as f64),
        BinaryOp::Minimum => (x.min(y), (x <= y) as i32 as f64, (x > y) as i32 as f64),
    }
}

#[test]
fn binary_ops_and_gradients_full_and_broadcast() {
    let mut rng = Rng::new();
    let (rows, cols) = (5, 7);
    for op in BINARY {
        for vector in [false, true] {
            let x = rng.away_from_zero(rows * cols, true);
            let y = rng.away_from_zero(if vector { cols } else { rows * cols }, true);
            let dz = rng.vec(rows * cols);
            let yi = |i: usize| y[if vector { i % cols } else { i }] as f64;
            let mut z = poison(rows * cols);
            ew::binary(op, rows, cols, &x, &y, &mut z).unwrap();
            let (mut dx, mut dy) = (poison(x.len()), poison(y.len()));
            ew::binary_grad(op, rows, cols, &dz, &x, &y, Some(&mut dx), Some(&mut dy)).unwrap();
            let mut z_ref = vec![0.0; x.len()];
            let mut dx_ref = vec![0.0; x.len()];
            let mut dy_ref = vec![0.0; y.len()];
            for i in 0..x.len() {
                let (v, gx, gy) = binary_ref(op, x[i] as f64, yi(i));
                z_ref[i] = v;
                dx_ref[i] = dz[i] as f64 * gx;
                dy_ref[if vector { i % cols } else { i }] += dz[i] as f64 * gy;
            }
            let what = format!("{op:?} vector={vector}");
            assert_close(&format!("{what} z"), &z, &z_ref);
            assert_close(&format!("{what} dx"), &dx, &dx_ref);
            assert_close(&format!("{what} dy"), &dy, &dy_ref);
        }
    }
}

const UNARY: [UnaryOp; 12] = [
    UnaryOp::Negative,
    UnaryOp::Reciprocal,
    UnaryOp::Square,
    UnaryOp::Sqrt,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sigmoid,
    UnaryOp::Tanh,
    UnaryOp::Relu,
    UnaryOp::Elu,
    UnaryOp::Gelu,
    UnaryOp::Swish,
];

fn gelu(x: f64, a: f64) -> (f64, f64) {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let t = (c * (x + a * x * x * x)).tanh();
    (0.5 * x * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * a * x * x))
}

fn swish(x: f64, a: f64) -> (f64, f64) {
    let s = sigmoid(a * x);
    (x * s, s + a * x * s * (1.0 - s))
}

/// (f(x), f'(x)) in float64.
fn unary_ref(op: UnaryOp, x: f64, a: f64) -> (f64, f64) {
    match op {
        UnaryOp::Negative => (-x, -1.0),
        UnaryOp::Reciprocal => (1.0 / x, -1.0 / (x * x)),
        UnaryOp::Square => (x * x, 2.0 * x),
        UnaryOp::Sqrt => (x.sqrt(), 0.5 / x.sqrt()),
        UnaryOp::Exp => (x.exp(), x.exp()),
        UnaryOp::Log => (x.ln(), 1.0 / x),
        UnaryOp::Sigmoid => (sigmoid(x), sigmoid(x) * (1.0 - sigmoid(x))),
        UnaryOp::Tanh => (x.tanh(), 1.0 - x.tanh().powi(2)),
        UnaryOp::Relu => (x.max(0.0), (x > 0.0) as i32 as f64),
        UnaryOp::Elu => {
            if x > 0.0 {
                (x, 1.0)
            } else {
                (a * (x.exp() - 1.0), a * x.exp())
            }
        }
        UnaryOp::Gelu => gelu(x, a),
        UnaryOp::Swish => swish(x, a),
    }
}

#[test]
fn unary_ops_and_gradients() {
    let mut rng = Rng::new();
    for op in UNARY {
        let positive = matches!(op, UnaryOp::Sqrt | UnaryOp::Log);
        let x = rng.away_from_zero(33, !positive);
        let dy = rng.vec(x.len());
        let alpha = op.default_alpha();
        let (mut y, mut dx) = (poison(x.len()), poison(x.len()));
        ew::unary(op, &x, alpha, &mut y).unwrap();
        ew::unary_grad(op, &dy, &x, alpha, &mut dx).unwrap();
        let refs: Vec<_> = x.iter().map(|&v| unary_ref(op, v as f64, alpha as f64)).collect();
        assert_close(&format!("{op:?} y"), &y, &refs.iter().map(|r| r.0).collect::<Vec<_>>());
        let dx_ref: Vec<_> = refs.iter().zip(&dy).map(|(r, &g)| r.1 * g as f64).collect();
        assert_close(&format!("{op:?} dx"), &dx, &dx_ref);
    }
}

fn act_ref(act: Activation, z: f64) -> (f64, f64) {
    match act {
        Activation::None => (z, 1.0),
        Activation::Relu => (z.max(0.0), (z > 0.0) as i32 as f64),
        Activation::Gelu => gelu(z, 0.044715),
        Activation::FastGelu => swish(z, 1.702),
    }
}

#[test]
fn bias_act_and_gradient_on_both_feature_axes() {
    let mut rng = Rng::new();
    let (n, k) = (6, 5);
    for act in [Activation::None, Activation::Relu, Activation::Gelu, Activation::FastGelu] {
        for axis in [1, 0] {
            let (x, dy, bias) = (rng.vec(n * k), rng.vec(n * k), rng.vec(k));
            let feature = |i: usize| if axis == 1 { i % k } else { i / n };
            let (mut y, mut dx, mut dbias) = (poison(n * k), poison(n * k), poison(k));
            ew::bias_act(act, axis, n, k, &x, Some(&bias), &mut y).unwrap();
            ew::bias_act_grad(act, axis, n, k, &dy, &x, Some(&bias), &mut dx, Some(&mut dbias)).unwrap();
            let (mut y_ref, mut dx_ref, mut db_ref) = (vec![0.0; n * k], vec![0.0; n * k], vec![0.0; k]);
            for i in 0..n * k {
                let (v, d) = act_ref(act, x[i] as f64 + bias[feature(i)] as f64);
                y_ref[i] = v;
                dx_ref[i] = dy[i] as f64 * d;
                db_ref[feature(i)] += dx_ref[i];
            }
            assert_close(&format!("{act:?} axis {axis} y"), &y, &y_ref);
            assert_close(&format!("{act:?} axis {axis} dx"), &dx, &dx_ref);
            assert_close(&format!("{act:?} axis {axis} dbias"), &dbias, &db_ref);
        }
    }
}

#[test]
fn float_cast_rounds_to_nearest_even_and_add_n_sums() {
    let mut rng = Rng::new();
    let x = rng.vec(50);
    let mut b = vec![BFloat16(0x7fc0); x.len()];
    ew::float_cast(&x, &mut b).unwrap();
    for (v, got) in x.iter().zip(&b) {
        assert_eq!(*got, BFloat16::from_f32(*v), "cast of {v}");
    }
    let mut back = poison(x.len());
    ew::float_cast(&b, &mut back).unwrap();
    assert!(back.iter().zip(&b).all(|(f, h)| *f == h.to_f32()));

    let xs: Vec<Vec<f32>> = (0..5).map(|_| rng.vec(40)).collect();
    let refs: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
    let mut y = poison(40);
    ew::add_n(&refs, &mut y).unwrap();
    let want: Vec<f64> = (0..40).map(|i| xs.iter().map(|v| v[i] as f64).sum()).collect();
    assert_close("add_n", &y, &want);
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let x = vec![1.0f32; 12];
    let mut z = poison(12);
    assert_fails(ew::binary(BinaryOp::Add, 3, 4, &x, &x[..5], &mut z), Status::SHAPE_MISMATCH, "y has 5", &z);
    assert_fails(ew::binary(BinaryOp::Add, 3, 4, &x[..11], &x, &mut z), Status::SHAPE_MISMATCH, "x has 11", &z);
    assert_fails(ew::unary(UnaryOp::Elu, &x, f32::NAN, &mut z), Status::INVALID_VALUE, "alpha", &z);
    assert_fails(ew::unary(UnaryOp::Exp, &x, 0.0, &mut z[..3]), Status::SHAPE_MISMATCH, "y has 3", &z);
    assert_fails(ew::bias_act(Activation::Relu, 2, 3, 4, &x, None, &mut z), Status::INVALID_VALUE, "feature_axis", &z);
    assert_fails(
        ew::bias_act(Activation::Relu, 1, 3, 4, &x, Some(&x[..3]), &mut z),
        Status::SHAPE_MISMATCH,
        "bias",
        &z,
    );
    assert_fails(ew::add_n::<f32>(&[], &mut z), Status::INVALID_VALUE, "count", &z);
    let many: Vec<&[f32]> = (0..ew::ADD_N_MAX_INPUTS + 1).map(|_| x.as_slice()).collect();
    assert_fails(ew::add_n(&many, &mut z), Status::INVALID_VALUE, "count", &z);
    let mut dbias = poison(4);
    let r = ew::bias_act_grad(Activation::Relu, 1, 3, 4, &x, &x, None, &mut z, Some(&mut dbias[..2]));
    assert_fails(r, Status::SHAPE_MISMATCH, "dbias", &z);
}
