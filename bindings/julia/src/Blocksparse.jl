"""
    Blocksparse

Julia binding of the blocksparse C library: block-sparse weight matrix products `y = x·W` and
their gradients on a fixed block layout, computed by the library's CPU backend.

The library is found through the environment variable `BLOCKSPARSE_LIBRARY` (the path of
`libblocksparse.so`), else the system's library search path.

Memory order: the C API is row-major and Julia is column-major, so with `feature_axis = 1` (the
default) an activation is a Julia `(features, N)` matrix (the memory of C's `(N, features)`), and
the weights are a `(b, b, nnz)` array whose `w[s, r, i]` is row `r`, column `s` of block `i`.
"""
module Blocksparse

using Libdl

export Plan, BlocksparseError, BF16, fprop!, bprop!, updat!, identity_init!, l2_normalize!,
       l2_normalize_grad!, block_coord, weight_size, input_size, output_size

const _syms = Dict{Symbol,Ptr{Cvoid}}()
const _NAMES = (:bs_get_version_string, :bs_status_name, :bs_get_last_error, :bsmm_params_init, :bsmm_create,
                :bsmm_create_bsr, :bsmm_destroy, :bsmm_get_attr, :bsmm_block_coord, :bsmm_get_workspace_size,
                :bsmm_fprop, :bsmm_bprop, :bsmm_updat, :bsmm_identity_init, :bsmm_l2_normalize,
                :bsmm_l2_normalize_grad)

# Resolves every function once at load, so that later lookups (finalizers included) take no lock.
function __init__()
    lib = Libdl.dlopen(get(ENV, "BLOCKSPARSE_LIBRARY", "libblocksparse"))
    for name in _NAMES
        _syms[name] = Libdl.dlsym(lib, name)
    end
end

_sym(name::Symbol) = _syms[name]

"""
    BlocksparseError(status, name, message)

A failed call: the `bs_status_t` value, its name ("BS_STATUS_SHAPE_MISMATCH") and the detailed
message of the library (or of the binding, for checks the C API cannot make).
"""
struct BlocksparseError <: Exception
    status::Int32
    name::String
    message::String
end

Base.showerror(io::IO, e::BlocksparseError) = print(io, "BlocksparseError: ", e.name, ": ", e.message)

status_name(st::Integer) = unsafe_string(ccall(_sym(:bs_status_name), Cstring, (Int32,), st))

# Raises the error of a failed status. The last-error message is per OS thread; a Julia task only
# changes thread at a yield point, and there is none between the failing ccall and this one.
function _check(st::Int32)
    st == 0 && return nothing
    need = Ref{Csize_t}(0)
    ccall(_sym(:bs_get_last_error), Int32, (Ptr{UInt8}, Csize_t, Ref{Csize_t}), C_NULL, 0, need)
    buf = Vector{UInt8}(undef, max(need[], 1))
    ccall(_sym(:bs_get_last_error), Int32, (Ptr{UInt8}, Csize_t, Ptr{Csize_t}), buf, length(buf), C_NULL)
    throw(BlocksparseError(st, status_name(st), unsafe_string(pointer(buf))))
end

_argerror(st, msg) = throw(BlocksparseError(Int32(st), status_name(st), msg))
const SHAPE_MISMATCH = 3
const INVALID_VALUE = 2
const WRONG_BACKEND = 9
const NULL_POINTER = 1

"""The loaded library's version string."""
version() = unsafe_string(ccall(_sym(:bs_get_version_string), Cstring, ()))

"""bfloat16 bits (Julia's Base has no bfloat16 before 1.11): the binding only moves them."""
primitive type BF16 16 end
BF16(x::Float32) = reinterpret(BF16, UInt16((reinterpret(UInt32, x) + 0x7fff + ((reinterpret(UInt32, x) >> 16) & 1)) >> 16))
Base.Float32(x::BF16) = reinterpret(Float32, UInt32(reinterpret(UInt16, x)) << 16)

const _DTYPES = Dict{DataType,Int32}(Float32 => 0, Float16 => 1, BF16 => 2)

# Mirror of bsmm_params_t (filled by bsmm_params_init, then the fields we set).
mutable struct _Params
    struct_size::UInt32
    backend::Int32
    device::Int32
    block_size::Int32
    feature_axis::Int32
    dtype::Int32
    math_mode::Int32
    num_threads::Int32
end

function _params(; block_size = 32, feature_axis = 1, dtype::Type = Float32, num_threads = 0, tf32 = false)
    p = _Params(0, 0, 0, 0, 0, 0, 0, 0)
    _check(ccall(_sym(:bsmm_params_init), Int32, (Ref{_Params}, Csize_t), p, sizeof(_Params)))
    haskey(_DTYPES, dtype) || _argerror(INVALID_VALUE, "dtype must be Float32, Float16 or BF16 (got $dtype)")
    p.block_size, p.feature_axis, p.dtype = block_size, feature_axis, _DTYPES[dtype]
    p.num_threads, p.math_mode = num_threads, tf32 ? 1 : 0
    return p
end

"""
    Plan(layout::AbstractMatrix; block_size=32, feature_axis=1, dtype=Float32, num_threads=0, tf32=false)
    Plan(CB, KB, row_ptr, col_idx; ...)

A bsmm plan on a `CB × KB` 0/1 block layout (`layout[c, k]` nonzero connects input block `c` to
output block `k`, 1-based here), or on a BSR layout with 0-based `row_ptr` (length CB+1) and
`col_idx`. Owns the C plan: `close(plan)` frees it (idempotent), else the finalizer does.
Executing one plan from several threads at once is allowed; `close` must not race with them.
"""
mutable struct Plan
    handle::Ptr{Cvoid}
    C::Int
    K::Int
    CB::Int
    KB::Int
    block_size::Int
    nnz::Int
    feature_axis::Int
    dtype::DataType
end

function Plan(layout::AbstractMatrix; kw...)
    CB, KB = size(layout)
    rowmajor = Vector{UInt8}(undef, CB * KB)
    for c in 1:CB, k in 1:KB
        v = layout[c, k]
        (v == 0 || v == 1) || _argerror(5, "layout values must be 0 or 1 (got $v at [$c, $k])")
        rowmajor[(c - 1) * KB + k] = v
    end
    p = _params(; kw...)
    h = Ref{Ptr{Cvoid}}(C_NULL)
    _check(ccall(_sym(:bsmm_create), Int32, (Ref{Ptr{Cvoid}}, Ref{_Params}, Ptr{UInt8}, Int64, Int64),
                 h, p, rowmajor, CB, KB))
    return _wrap(h[])
end

function Plan(CB::Integer, KB::Integer, row_ptr::AbstractVector{<:Integer}, col_idx::AbstractVector{<:Integer}; kw...)
    rp, ci = Vector{Int64}(row_ptr), Vector{Int64}(col_idx)
    (length(rp) == CB + 1 && rp[end] == length(ci)) ||
        _argerror(SHAPE_MISMATCH, "need CB+1 = $(CB + 1) row pointers ending at length(col_idx) = $(length(ci))")
    p = _params(; kw...)
    h = Ref{Ptr{Cvoid}}(C_NULL)
    _check(ccall(_sym(:bsmm_create_bsr), Int32, (Ref{Ptr{Cvoid}}, Ref{_Params}, Int64, Int64, Ptr{Int64}, Ptr{Int64}),
                 h, p, CB, KB, rp, ci))
    return _wrap(h[])
end

function _attr(h::Ptr{Cvoid}, a::Integer)
    v = Ref{Int64}(0)
    _check(ccall(_sym(:bsmm_get_attr), Int32, (Ptr{Cvoid}, Int32, Ref{Int64}), h, a, v))
    return Int(v[])
end

function _wrap(h::Ptr{Cvoid})
    dt = Dict(0 => Float32, 1 => Float16, 2 => BF16)[_attr(h, 7)]
    _attr(h, 8) == 0 || (ccall(_sym(:bsmm_destroy), Int32, (Ptr{Cvoid},), h);
                         _argerror(WRONG_BACKEND, "Julia arrays are host memory: only CPU plans are supported"))
    plan = Plan(h, _attr(h, 0), _attr(h, 1), _attr(h, 2), _attr(h, 3), _attr(h, 4), _attr(h, 5), _attr(h, 6), dt)
    finalizer(close, plan)
    return plan
end

"""Frees the C plan; later calls on it throw. Calling it again is a no-op."""
function Base.close(plan::Plan)
    h = plan.handle
    plan.handle = C_NULL
    h == C_NULL || ccall(_sym(:bsmm_destroy), Int32, (Ptr{Cvoid},), h)
    return nothing
end

function _handle(plan::Plan)
    plan.handle == C_NULL && _argerror(NULL_POINTER, "the plan is closed")
    return plan.handle
end

"""Size of the weight array, `(b, b, nnz)` (C's row-major `(nnz, b, b)`)."""
weight_size(p::Plan) = (p.block_size, p.block_size, p.nnz)
"""Size of the input for minibatch N: `(C, N)` for feature axis 1, `(N, C)` for axis 0."""
input_size(p::Plan, N::Integer) = p.feature_axis == 1 ? (p.C, Int(N)) : (Int(N), p.C)
"""Size of the output for minibatch N: `(K, N)` for feature axis 1, `(N, K)` for axis 0."""
output_size(p::Plan, N::Integer) = p.feature_axis == 1 ? (p.K, Int(N)) : (Int(N), p.K)

"""1-based layout coordinates `(c, k)` of 1-based weight block `i`."""
function block_coord(plan::Plan, i::Integer)
    c, k = Ref{Int64}(0), Ref{Int64}(0)
    GC.@preserve plan _check(ccall(_sym(:bsmm_block_coord), Int32, (Ptr{Cvoid}, Int64, Ref{Int64}, Ref{Int64}),
                                   _handle(plan), i - 1, c, k))
    return (Int(c[]) + 1, Int(k[]) + 1)
end

# What the C API cannot check: element type and every array's length.
function _check_arrays(plan::Plan, ::Type{T}, arrays...) where {T}
    T === plan.dtype || _argerror(INVALID_VALUE, "arrays of $T given to a plan of $(plan.dtype)")
    for (name, a, want) in arrays
        length(a) == want || _argerror(SHAPE_MISMATCH, "$name has $(length(a)) elements, expected $want")
    end
end

_gate_len(plan, gate) = gate === nothing || length(gate) == plan.nnz ||
    _argerror(SHAPE_MISMATCH, "gate has $(length(gate)) entries, the plan has $(plan.nnz) blocks")

function _workspace(plan::Plan, op::Integer, N::Integer)
    bytes = Ref{Csize_t}(0)
    _check(ccall(_sym(:bsmm_get_workspace_size), Int32, (Ptr{Cvoid}, Int32, Int64, Ref{Csize_t}),
                 _handle(plan), op, N, bytes))
    return Vector{UInt64}(undef, cld(bytes[], 8))
end

_ptr(a) = a === nothing ? Ptr{Cvoid}(C_NULL) : Ptr{Cvoid}(pointer(a))

function _xprop(fn::Symbol, op, plan::Plan, N::Integer, input::DenseArray{T}, w::DenseArray{T}, out::DenseArray{T},
                inF, outF, alpha, beta, gate) where {T}
    N >= 0 || _argerror(INVALID_VALUE, "N must be >= 0 (got $N)")
    _check_arrays(plan, T, ("input", input, N * inF), ("w", w, prod(weight_size(plan))), ("output", out, N * outF))
    _gate_len(plan, gate)
    ws = _workspace(plan, op, N)
    GC.@preserve plan input w out gate ws begin
        _check(ccall(_sym(fn), Int32,
                     (Ptr{Cvoid}, Int64, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Float32, Float32, Ptr{Cvoid}, Ptr{Cvoid},
                      Csize_t, Ptr{Cvoid}),
                     _handle(plan), N, _ptr(input), _ptr(w), _ptr(out), alpha, beta,
                     gate === nothing ? C_NULL : _ptr(gate), _ptr(ws), 8 * length(ws), C_NULL))
    end
    return out
end

"""
    fprop!(y, plan, x, w; alpha=1, beta=0, gate=nothing, N)

`y = alpha·(x·W) + beta·y` (block `i`'s term times `gate[i]` when gates are given). `x` has
[`input_size`](@ref), `y` [`output_size`](@ref), `w` [`weight_size`](@ref). Returns `y`.
"""
fprop!(y, plan::Plan, x, w; alpha = 1f0, beta = 0f0, gate = nothing, N = length(x) ÷ plan.C) =
    _xprop(:bsmm_fprop, 0, plan, N, x, w, y, plan.C, plan.K, alpha, beta, gate)

"""
    bprop!(dx, plan, dy, w; alpha=1, beta=0, gate=nothing, N)

`dx = alpha·(dy·Wᵀ) + beta·dx`: `dy` has the output's size, `dx` the input's. Returns `dx`.
"""
bprop!(dx, plan::Plan, dy, w; alpha = 1f0, beta = 0f0, gate = nothing, N = length(dy) ÷ plan.K) =
    _xprop(:bsmm_bprop, 1, plan, N, dy, w, dx, plan.K, plan.C, alpha, beta, gate)

"""
    updat!(dw, plan, xs, dys; alpha=1, beta=0, gate=nothing)

Weight gradient on the layout, `dW[i] = alpha·Σ_p x_p[:,c]ᵀ·dy_p[:,k] + beta·dW[i]`, over the pairs
`(xs[p], dys[p])` (vectors of arrays, or one array each for a single pair). Returns `dw`.
"""
function updat!(dw::DenseArray{T}, plan::Plan, xs::AbstractVector{<:DenseArray{T}}, dys::AbstractVector{<:DenseArray{T}};
                alpha = 1f0, beta = 0f0, gate = nothing) where {T}
    P = length(xs)
    (P >= 1 && length(dys) == P) || _argerror(INVALID_VALUE, "need as many dy as x arrays, at least one")
    N = length(xs[1]) ÷ plan.C
    for p in 1:P
        _check_arrays(plan, T, ("x[$p]", xs[p], N * plan.C), ("dy[$p]", dys[p], N * plan.K))
    end
    _check_arrays(plan, T, ("dw", dw, prod(weight_size(plan))))
    _gate_len(plan, gate)
    ws = _workspace(plan, 2, N)
    GC.@preserve plan xs dys dw gate ws begin
        xp = Ptr{Cvoid}[_ptr(a) for a in xs]
        dp = Ptr{Cvoid}[_ptr(a) for a in dys]
        _check(ccall(_sym(:bsmm_updat), Int32,
                     (Ptr{Cvoid}, Int64, Int32, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}, Ptr{Cvoid}, Float32, Float32, Ptr{Cvoid},
                      Ptr{Cvoid}, Csize_t, Ptr{Cvoid}),
                     _handle(plan), N, P, xp, dp, _ptr(dw), alpha, beta, gate === nothing ? C_NULL : _ptr(gate),
                     _ptr(ws), 8 * length(ws), C_NULL))
    end
    return dw
end
updat!(dw::DenseArray{T}, plan::Plan, x::DenseArray{T}, dy::DenseArray{T}; kw...) where {T} =
    updat!(dw, plan, [x], [dy]; kw...)

"""`w` = identity initialisation (block at (c, k) is `scale·I` when `c % KB == k % CB`, 0-based). Returns `w`."""
function identity_init!(w::DenseArray{T}, plan::Plan, scale = 1f0) where {T}
    _check_arrays(plan, T, ("w", w, prod(weight_size(plan))))
    GC.@preserve plan w _check(ccall(_sym(:bsmm_identity_init), Int32, (Ptr{Cvoid}, Ptr{Cvoid}, Float32, Ptr{Cvoid}),
                                     _handle(plan), _ptr(w), scale, C_NULL))
    return w
end

"""`y` = `w` normalised per output feature (times `gain`, length K, when given). Returns `y`."""
function l2_normalize!(y::DenseArray{T}, plan::Plan, w::DenseArray{T}; gain = nothing, epsilon = 0f0) where {T}
    n = prod(weight_size(plan))
    _check_arrays(plan, T, ("w", w, n), ("y", y, n))
    gain === nothing || length(gain) == plan.K || _argerror(SHAPE_MISMATCH, "gain needs K = $(plan.K) entries")
    ws = _workspace(plan, 3, 0)
    GC.@preserve plan w y gain ws _check(ccall(_sym(:bsmm_l2_normalize), Int32,
        (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Float32, Ptr{Cvoid}, Csize_t, Ptr{Cvoid}),
        _handle(plan), _ptr(w), _ptr(gain), _ptr(y), epsilon, _ptr(ws), 8 * length(ws), C_NULL))
    return y
end

"""Gradient of [`l2_normalize!`](@ref) into `dw` (and `dgain`, length K, when `gain` is given). Returns `dw`."""
function l2_normalize_grad!(dw::DenseArray{T}, plan::Plan, dy::DenseArray{T}, w::DenseArray{T};
                            gain = nothing, dgain = nothing, epsilon = 0f0) where {T}
    n = prod(weight_size(plan))
    _check_arrays(plan, T, ("dy", dy, n), ("w", w, n), ("dw", dw, n))
    (gain === nothing) == (dgain === nothing) || _argerror(SHAPE_MISMATCH, "give both gain and dgain, or neither")
    gain === nothing || (length(gain) == length(dgain) == plan.K) || _argerror(SHAPE_MISMATCH, "gain, dgain need K entries")
    ws = _workspace(plan, 4, 0)
    GC.@preserve plan dy w dw gain dgain ws _check(ccall(_sym(:bsmm_l2_normalize_grad), Int32,
        (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Float32, Ptr{Cvoid}, Csize_t, Ptr{Cvoid}),
        _handle(plan), _ptr(dy), _ptr(w), _ptr(gain), _ptr(dw), _ptr(dgain), epsilon, _ptr(ws), 8 * length(ws), C_NULL))
    return dw
end

end # module
