//! norms:: (batch norm, channel-wise linear) against float64 references, and bad input.
mod common;

use blocksparse::norms::{self, Ncs};
use blocksparse::Status;
use common::*;

/// Per channel (mean, biased var) of x (N, C, S).
fn stats(x: &[f32], sh: Ncs) -> (Vec<f64>, Vec<f64>) {
    let m = (sh.n * sh.s) as f64;
    let at = |n: usize, c: usize, s: usize| x[(n * sh.c + c) * sh.s + s] as f64;
    let mut mean = vec![0.0; sh.c];
    let mut var = vec![0.0; sh.c];
    for c in 0..sh.c {
        mean[c] = (0..sh.n).flat_map(|n| (0..sh.s).map(move |s| (n, s))).map(|(n, s)| at(n, c, s)).sum::<f64>() / m;
        var[c] = (0..sh.n)
            .flat_map(|n| (0..sh.s).map(move |s| (n, s)))
            .map(|(n, s)| (at(n, c, s) - mean[c]).powi(2))
            .sum::<f64>()
            / m;
    }
    (mean, var)
}

#[test]
fn batchnorm_train_infer_and_both_backwards() {
    let mut rng = Rng::new();
    let sh = Ncs { n: 4, c: 3, s: 5 };
    let len = sh.n * sh.c * sh.s;
    let ch = |i: usize| (i / sh.s) % sh.c;
    let eps = 1e-5f32;
    let (x, dy, gain, bias) = (rng.vec(len), rng.vec(len), rng.vec(sh.c), rng.vec(sh.c));
    let (mut y, mut mean, mut var) = (poison(len), poison(sh.c), poison(sh.c));
    norms::batchnorm_fprop_train(sh, &x, Some(&gain), Some(&bias), eps, &mut y, &mut mean, &mut var).unwrap();
    let (m64, v64) = stats(&x, sh);
    let rstd: Vec<f64> = v64.iter().map(|v| 1.0 / (v + eps as f64).sqrt()).collect();
    let xhat: Vec<f64> = (0..len).map(|i| (x[i] as f64 - m64[ch(i)]) * rstd[ch(i)]).collect();
    let y_ref: Vec<f64> = (0..len).map(|i| gain[ch(i)] as f64 * xhat[i] + bias[ch(i)] as f64).collect();
    assert_close("train y", &y, &y_ref);
    assert_close("mean", &mean, &m64);
    assert_close("var", &var, &v64);

    let mut yi = poison(len);
    norms::batchnorm_fprop_infer(sh, &x, Some(&gain), Some(&bias), &mean, &var, eps, &mut yi).unwrap();
    assert_close("infer y", &yi, &y_ref);

    let m = (sh.n * sh.s) as f64;
    let mut db_ref = vec![0.0; sh.c];
    let mut dg_ref = vec![0.0; sh.c];
    for i in 0..len {
        db_ref[ch(i)] += dy[i] as f64;
        dg_ref[ch(i)] += dy[i] as f64 * xhat[i];
    }
    for training in [true, false] {
        let (mut dx, mut dg, mut db) = (poison(len), poison(sh.c), poison(sh.c));
        norms::batchnorm_bprop(
            training,
            sh,
            &dy,
            &x,
            Some(&gain),
            &mean,
            &var,
            eps,
            &mut dx,
            Some(&mut dg),
            Some(&mut db),
        )
        .unwrap();
        let dx_ref: Vec<f64> = (0..len)
            .map(|i| {
                let c = ch(i);
                let g = gain[c] as f64 * rstd[c];
                if training {
                    g * (dy[i] as f64 - db_ref[c] / m - xhat[i] * dg_ref[c] / m)
                } else {
                    g * dy[i] as f64
                }
            })
            .collect();
        assert_close(&format!("training={training} dx"), &dx, &dx_ref);
        assert_close("dgain", &dg, &dg_ref);
        assert_close("dbias", &db, &db_ref);
    }
}

#[test]
fn cwise_linear_with_relu_and_bias_first() {
    let mut rng = Rng::new();
    let sh = Ncs { n: 3, c: 4, s: 6 };
    let len = sh.n * sh.c * sh.s;
    let ch = |i: usize| (i / sh.s) % sh.c;
    for (relu, bias_first) in [(false, false), (true, false), (false, true), (true, true)] {
        let (x, dy, a, b) = (rng.vec(len), rng.vec(len), rng.vec(sh.c), rng.vec(sh.c));
        let mut y = poison(len);
        norms::cwise_linear_fprop(sh, &x, Some(&a), Some(&b), relu, bias_first, &mut y).unwrap();
        let (mut dx, mut da, mut db) = (poison(len), poison(sh.c), poison(sh.c));
        norms::cwise_linear_bprop(
            sh,
            &dy,
            &x,
            Some(&a),
            Some(&b),
            relu,
            bias_first,
            Some(&mut dx),
            Some(&mut da),
            Some(&mut db),
        )
        .unwrap();
        let (mut y_ref, mut dx_ref, mut da_ref, mut db_ref) =
            (vec![0.0; len], vec![0.0; len], vec![0.0; sh.c], vec![0.0; sh.c]);
        for i in 0..len {
            let (c, xv) = (ch(i), x[i] as f64);
            let (av, bv) = (a[c] as f64, b[c] as f64);
            let pre = if bias_first { av * (xv + bv) } else { av * xv + bv };
            y_ref[i] = if relu { pre.max(0.0) } else { pre };
            let g = if relu && pre <= 0.0 { 0.0 } else { dy[i] as f64 };
            dx_ref[i] = av * g;
            da_ref[c] += g * if bias_first { xv + bv } else { xv };
            db_ref[c] += if bias_first { av * g } else { g };
        }
        let what = format!("relu={relu} bias_first={bias_first}");
        assert_close(&format!("{what} y"), &y, &y_ref);
        assert_close(&format!("{what} dx"), &dx, &dx_ref);
        assert_close(&format!("{what} da"), &da, &da_ref);
        assert_close(&format!("{what} db"), &db, &db_ref);
    }
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let sh = Ncs { n: 2, c: 3, s: 2 };
    let x = vec![0.5f32; 12];
    let (mut y, mut mean, mut var) = (poison(12), poison(3), poison(3));
    let r = norms::batchnorm_fprop_train(sh, &x, None, None, -1.0, &mut y, &mut mean, &mut var);
    assert_fails(r, Status::INVALID_VALUE, "epsilon", &y);
    let r = norms::batchnorm_fprop_train(sh, &x, None, None, 1e-5, &mut y, &mut mean[..2], &mut var);
    assert_fails(r, Status::SHAPE_MISMATCH, "mean", &y);
    let r = norms::batchnorm_fprop_train::<f32>(
        Ncs { n: 0, c: 3, s: 2 },
        &[],
        None,
        None,
        1e-5,
        &mut [],
        &mut mean,
        &mut var,
    );
    assert_fails(r, Status::INVALID_VALUE, "", &mean);
    let r = norms::cwise_linear_fprop(sh, &x[..11], None, None, false, false, &mut y);
    assert_fails(r, Status::SHAPE_MISMATCH, "x has 11", &y);
}
