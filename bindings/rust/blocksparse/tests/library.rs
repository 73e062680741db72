//! The library-wide queries, and the bsmm plan's shape queries.
use blocksparse::{Backend, DType, Params, Plan, Status};

#[test]
fn version_device_count_dtype_size() {
    let v = blocksparse::version_number();
    let parts: Vec<i32> = blocksparse::version().split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(v, parts[0] * 10000 + parts[1] * 100 + parts[2]);
    assert!(blocksparse::build_info().contains("backends="));
    assert_eq!(blocksparse::device_count(Backend::Cpu).unwrap(), 1);
    assert!(blocksparse::device_count(Backend::Cuda).unwrap() >= 0);
    assert_eq!(blocksparse::dtype_size(DType::F32).unwrap(), 4);
    assert_eq!(blocksparse::dtype_size(DType::BF16).unwrap(), 2);
}

#[test]
fn last_status_is_per_failure_and_clears() {
    blocksparse::clear_last_error();
    assert_eq!(blocksparse::last_status(), Status::SUCCESS);
    let e = Plan::new(&[0, 0], 1, 2, &Params::default()).unwrap_err();
    assert_eq!(blocksparse::last_status(), e.status);
    blocksparse::clear_last_error();
    assert_eq!(blocksparse::last_status(), Status::SUCCESS);
}

#[test]
fn plan_shapes() {
    let plan = Plan::new(&[1, 0, 1, 1, 0, 1], 2, 3, &Params { block_size: 8, ..Params::default() }).unwrap();
    assert_eq!(plan.weight_shape().unwrap(), [4, 8, 8]);
    assert_eq!(plan.input_shape(5).unwrap(), [5, 16]);
    assert_eq!(plan.output_shape(5).unwrap(), [5, 24]);
    let axis0 = Plan::new(&[1], 1, 1, &Params { block_size: 8, feature_axis: 0, ..Params::default() }).unwrap();
    assert_eq!(axis0.input_shape(3).unwrap(), [8, 3]);
}
