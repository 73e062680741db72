//! dropout:: against Random123's known answers and a float64 reference of the masked scaling.
mod common;

use blocksparse::{dropout, Status};
use common::*;

#[test]
fn philox_matches_random123_known_answers() {
    let kats = [
        ([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
        ([u32::MAX; 4], [u32::MAX; 2], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, want) in kats {
        assert_eq!(dropout::philox4x32_10(ctr, key).unwrap(), want);
    }
}

fn bit(mask: &[u32], i: usize) -> bool {
    mask[i / 32] >> (i % 32) & 1 == 1
}

#[test]
fn mask_fprop_and_apply_agree_with_the_documented_stream() {
    let mut rng = Rng::new();
    let n = 1000 + (rng.next() % 100) as usize;
    let (keep, seed, offset) = (0.7f32, rng.next(), rng.next() >> 8);
    let mut mask = vec![u32::MAX; dropout::mask_words(n)];
    dropout::mask(n, keep, seed, offset, &mut mask).unwrap();
    // Element i keeps iff word i%4 of Philox(counter = offset + i/4, key = seed) < floor(keep·2³²).
    let threshold = (keep as f64 * 4294967296.0).floor() as u64;
    for i in (0..n).step_by(37) {
        let c = offset.wrapping_add((i / 4) as u64);
        let r = dropout::philox4x32_10([c as u32, (c >> 32) as u32, 0, 0], [seed as u32, (seed >> 32) as u32]).unwrap();
        assert_eq!(bit(&mask, i), (r[i % 4] as u64) < threshold, "element {i}");
    }
    if n % 32 != 0 {
        assert_eq!(mask[mask.len() - 1] >> (n % 32), 0, "the unused bits of the last word are 0");
    }
    let kept = (0..n).filter(|&i| bit(&mask, i)).count() as f64 / n as f64;
    assert!((kept - 0.7).abs() < 0.06, "kept fraction {kept}");

    let x = rng.vec(n);
    let (mut y, mut stored) = (poison(n), vec![0u32; mask.len()]);
    dropout::fprop(&x, keep, seed, offset, &mut y, Some(&mut stored)).unwrap();
    assert_eq!(stored, mask);
    let scale = (1.0f32 / keep) as f64;
    let y_ref: Vec<f64> = (0..n).map(|i| if bit(&mask, i) { x[i] as f64 * scale } else { 0.0 }).collect();
    assert_close("fprop", &y, &y_ref);
    let mut z = poison(n);
    dropout::apply(&x, &mask, keep, &mut z).unwrap();
    assert_close("apply", &z, &y_ref);
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let x = vec![1.0f32; 64];
    let mut y = poison(64);
    assert_fails(dropout::fprop(&x, 0.0, 1, 0, &mut y, None), Status::INVALID_VALUE, "keep_prob", &y);
    assert_fails(dropout::fprop(&x, f32::NAN, 1, 0, &mut y, None), Status::INVALID_VALUE, "keep_prob", &y);
    let mut short = vec![0u32; 1];
    assert_fails(dropout::fprop(&x, 0.5, 1, 0, &mut y, Some(&mut short)), Status::SHAPE_MISMATCH, "mask", &y);
    assert_fails(dropout::apply(&x, &[0u32; 3], 0.5, &mut y), Status::SHAPE_MISMATCH, "mask", &y);
}
