//! lstm:: against float64 references, and bad input.
mod common;

use blocksparse::{lstm, Status};
use common::*;

#[test]
fn gates_forward_and_backward() {
    let mut rng = Rng::new();
    let (n, k, fb) = (3, 5, 1.0f32);
    let (c, h, bias) = (rng.vec(n * k), rng.vec(n * 4 * k), rng.vec(4 * k));
    let (dcn, dhn) = (rng.vec(n * k), rng.vec(n * k));
    let (mut c_next, mut h_next) = (poison(n * k), poison(n * k));
    lstm::gates_fprop(n, k, &c, &h, Some(&bias), fb, &mut c_next, &mut h_next).unwrap();
    let (mut dc, mut dh, mut dbias) = (poison(n * k), poison(n * 4 * k), poison(4 * k));
    lstm::gates_bprop(n, k, Some(&dcn), Some(&dhn), &c, &h, Some(&bias), fb, &mut dc, &mut dh, Some(&mut dbias))
        .unwrap();
    let (mut cr, mut hr, mut dcr, mut dhr, mut dbr) =
        (vec![0.0; n * k], vec![0.0; n * k], vec![0.0; n * k], vec![0.0; n * 4 * k], vec![0.0; 4 * k]);
    for r in 0..n {
        for j in 0..k {
            let g = |gate: usize| h[r * 4 * k + gate * k + j] as f64 + bias[gate * k + j] as f64;
            let (i, u, f, o) = (sigmoid(g(0)), g(1).tanh(), sigmoid(g(2) + fb as f64), sigmoid(g(3)));
            let cv = c[r * k + j] as f64;
            let cn = f * cv + i * u;
            let t = cn.tanh();
            cr[r * k + j] = cn;
            hr[r * k + j] = o * t;
            let dct = dcn[r * k + j] as f64 + dhn[r * k + j] as f64 * o * (1.0 - t * t);
            dcr[r * k + j] = dct * f;
            let grads = [
                dct * u * i * (1.0 - i),
                dct * i * (1.0 - u * u),
                dct * cv * f * (1.0 - f),
                dhn[r * k + j] as f64 * t * o * (1.0 - o),
            ];
            for (gate, v) in grads.iter().enumerate() {
                dhr[r * 4 * k + gate * k + j] = *v;
                dbr[gate * k + j] += v;
            }
        }
    }
    assert_close("c_next", &c_next, &cr);
    assert_close("h_next", &h_next, &hr);
    assert_close("dc", &dc, &dcr);
    assert_close("dh", &dh, &dhr);
    assert_close("dbias", &dbias, &dbr);
}

#[test]
fn split4_and_concat4_are_inverse() {
    let mut rng = Rng::new();
    let (n, k) = (4, 3);
    let x = rng.vec(n * 4 * k);
    let mut parts = [poison(n * k), poison(n * k), poison(n * k), poison(n * k)];
    {
        let [a, b, c, d] = &mut parts;
        lstm::split4(n, k, &x, [a, b, c, d]).unwrap();
    }
    for (g, part) in parts.iter().enumerate() {
        let want: Vec<f64> = (0..n * k).map(|i| x[(i / k) * 4 * k + g * k + i % k] as f64).collect();
        assert_close(&format!("part {g}"), part, &want);
    }
    let mut y = poison(n * 4 * k);
    lstm::concat4(n, k, [&parts[0], &parts[1], &parts[2], &parts[3]], &mut y).unwrap();
    assert_eq!(y, x);
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let (c, h) = (vec![0.5f32; 6], vec![0.5f32; 24]);
    let (mut cn, mut hn) = (poison(6), poison(6));
    let r = lstm::gates_fprop(2, 3, &c, &h[..23], None, 1.0, &mut cn, &mut hn);
    assert_fails(r, Status::SHAPE_MISMATCH, "h has 23", &cn);
    let r = lstm::gates_fprop(2, 3, &c, &h, None, f32::INFINITY, &mut cn, &mut hn);
    assert_fails(r, Status::INVALID_VALUE, "forget_bias", &cn);
    let mut y = poison(24);
    let r = lstm::concat4(2, 3, [&c, &c, &c, &c[..5]], &mut y);
    assert_fails(r, Status::SHAPE_MISMATCH, "in[3]", &y);
}
