//! LayerNorm against a float64 reference (segments, relu, both feature axes), and bad input.
mod common;

use std::sync::Arc;

use blocksparse::{BFloat16, DType, LayerNorm, LayerNormOp, LayerNormParams, Status};
use common::*;

struct Reference {
    y: Vec<f64>,
    mean: Vec<f64>,
    rstd: Vec<f64>,
    dx: Vec<f64>,
    dgain: Vec<f64>,
    dbias: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
fn reference(
    x: &[f32],
    dy: &[f32],
    gain: &[f32],
    bias: &[f32],
    n: usize,
    k: usize,
    segs: usize,
    axis: i32,
    eps: f64,
    relu: bool,
) -> Reference {
    let at = |r: usize, f: usize| if axis == 1 { r * k + f } else { f * n + r };
    let ks = k / segs;
    let mut out = Reference {
        y: vec![0.0; n * k],
        mean: vec![0.0; segs * n],
        rstd: vec![0.0; segs * n],
        dx: vec![0.0; n * k],
        dgain: vec![0.0; k],
        dbias: vec![0.0; k],
    };
    for r in 0..n {
        for s in 0..segs {
            let fs: Vec<usize> = (s * ks..(s + 1) * ks).collect();
            let mean = fs.iter().map(|&f| x[at(r, f)] as f64).sum::<f64>() / ks as f64;
            let var = fs.iter().map(|&f| (x[at(r, f)] as f64 - mean).powi(2)).sum::<f64>() / ks as f64;
            let rstd = 1.0 / (var + eps).sqrt();
            out.mean[s * n + r] = mean;
            out.rstd[s * n + r] = rstd;
            let xhat: Vec<f64> = fs.iter().map(|&f| (x[at(r, f)] as f64 - mean) * rstd).collect();
            let mut u = vec![0.0; ks];
            for (j, &f) in fs.iter().enumerate() {
                let z = gain[f] as f64 * xhat[j] + bias[f] as f64;
                out.y[at(r, f)] = if relu { z.max(0.0) } else { z };
                let g = if relu && z <= 0.0 { 0.0 } else { dy[at(r, f)] as f64 };
                out.dbias[f] += g;
                out.dgain[f] += g * xhat[j];
                u[j] = g * gain[f] as f64;
            }
            let mu = u.iter().sum::<f64>() / ks as f64;
            let mux = u.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / ks as f64;
            for (j, &f) in fs.iter().enumerate() {
                out.dx[at(r, f)] = rstd * (u[j] - mu - xhat[j] * mux);
            }
        }
    }
    out
}

#[test]
fn forward_and_backward_match_float64() {
    let mut rng = Rng::new();
    let (n, k) = (7, 12);
    for (axis, segs, relu) in [(1, 1, false), (0, 1, false), (1, 3, true), (0, 2, true)] {
        let params = LayerNormParams {
            k,
            feature_axis: axis,
            segments: segs,
            epsilon: 1e-5,
            relu,
            num_threads: 2,
            ..LayerNormParams::default()
        };
        let plan = LayerNorm::new(&params).unwrap();
        let (x, dy, gain, bias) = (rng.vec(n * k), rng.vec(n * k), rng.vec(k), rng.vec(k));
        let s = segs as usize;
        let (mut y, mut mean, mut rstd) = (poison(n * k), poison(s * n), poison(s * n));
        plan.fprop(n, &x, Some(&gain), Some(&bias), &mut y, Some((&mut mean, &mut rstd))).unwrap();
        let (mut dx, mut dg, mut db) = (poison(n * k), poison(k), poison(k));
        plan.bprop(n, &dy, &x, Some(&gain), Some(&bias), &mean, &rstd, &mut dx, Some(&mut dg), Some(&mut db)).unwrap();
        let r = reference(&x, &dy, &gain, &bias, n, k, s, axis, 1e-5, relu);
        let what = format!("axis {axis} segments {segs} relu {relu}");
        assert_close(&format!("{what} y"), &y, &r.y);
        assert_close(&format!("{what} mean"), &mean, &r.mean);
        assert_close(&format!("{what} rstd"), &rstd, &r.rstd);
        assert_close(&format!("{what} dx"), &dx, &r.dx);
        assert_close(&format!("{what} dgain"), &dg, &r.dgain);
        assert_close(&format!("{what} dbias"), &db, &r.dbias);
    }
}

#[test]
fn bfloat16_forward_and_sharing_across_threads() {
    let mut rng = Rng::new();
    let (n, k) = (5, 16);
    let plan =
        Arc::new(LayerNorm::new(&LayerNormParams { k, dtype: DType::BF16, ..LayerNormParams::default() }).unwrap());
    let xf = rng.vec(n * k);
    let x: Vec<BFloat16> = xf.iter().map(|&v| BFloat16::from_f32(v)).collect();
    let xr: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let ones = vec![1.0f32; k];
    let want = reference(&xr, &xr, &ones, &vec![0.0; k], n, k, 1, 1, 1e-6, false).y;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (plan, x, want) = (Arc::clone(&plan), x.clone(), want.clone());
            std::thread::spawn(move || {
                let mut y = vec![BFloat16(0x7fc0); n * k];
                plan.fprop(n, &x, None, None, &mut y, None).unwrap();
                let yf: Vec<f32> = y.iter().map(|v| v.to_f32()).collect();
                let e = rel_err(&yf, &want);
                assert!(e <= 1e-2, "bf16 relative error {e}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let e = LayerNorm::new(&LayerNormParams::default()).unwrap_err(); // K = 0 by default
    assert_eq!(e.status, Status::INVALID_VALUE);
    let e = LayerNorm::new(&LayerNormParams { k: 6, segments: 4, ..LayerNormParams::default() }).unwrap_err();
    assert!(e.message.contains("segments"), "{e}");
    let plan = LayerNorm::new(&LayerNormParams { k: 4, ..LayerNormParams::default() }).unwrap();
    assert!(plan.workspace_size(LayerNormOp::Bprop, 8).is_ok());
    let x = vec![1.0f32; 8];
    let mut y = poison(8);
    assert_fails(plan.fprop(2, &x[..7], None, None, &mut y, None), Status::SHAPE_MISMATCH, "x has 7", &y);
    assert_fails(plan.fprop(2, &x, Some(&x[..3]), None, &mut y, None), Status::SHAPE_MISMATCH, "gain", &y);
    let bx = vec![BFloat16(0); 8];
    let mut by = vec![BFloat16(0x7fc0); 8];
    let r = plan.fprop(2, &bx, None, None, &mut by, None);
    assert_eq!(r.unwrap_err().status, Status::INVALID_VALUE);
    assert!(by.iter().all(|v| v.0 == 0x7fc0));
    let (m, rs) = (vec![0.0f32; 2], vec![1.0f32; 2]);
    let mut dx = poison(8);
    let r = plan.bprop(2, &x, &x, None, None, &m, &rs[..1], &mut dx, None, None);
    assert_fails(r, Status::SHAPE_MISMATCH, "rstd", &dx);
}
