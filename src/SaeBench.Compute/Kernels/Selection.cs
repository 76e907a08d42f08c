using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SaeBench.Compute.Kernels;

/// <summary>
/// Exact, deterministic selection of the largest values, by selection rather than a full sort.
/// Order among equal values: the lower index wins. Selected indices are returned in ascending index order.
/// NaN values are never preferred over numbers.
/// </summary>
public static class Selection
{
    /// <summary>
    /// The k largest values of <paramref name="values"/>: writes their indices (ascending) into
    /// <paramref name="indices"/> and the matching values into <paramref name="selected"/>.
    /// </summary>
    public static void TopK(ReadOnlySpan<float> values, int k, Span<int> indices, Span<float> selected)
    {
        CheckK(k, values.Length);
        if (indices.Length < k || selected.Length < k) throw new ArgumentException($"Output spans must hold k = {k} elements.");
        if (k == 0) return;
        if (k == values.Length)
        {
            for (int i = 0; i < k; i++) { indices[i] = i; selected[i] = values[i]; }
            return;
        }
        if ((long)k * 16 > values.Length) ThresholdTopK(values, k, indices[..k], selected[..k]);
        else if (values.Length < FilterMinLength || !FilterTopK(values, k, indices[..k], selected[..k]))
        {
            HeapTopK(values, k, indices[..k], selected[..k]);
            indices[..k].Sort(selected[..k]);
        }
    }

    /// <summary>Rows shorter than this go straight to the heap (the filter's set-up does not pay off).</summary>
    private const int FilterMinLength = 1024;

    /// <summary>The filter gives up (and the heap takes over) when more than this many × k values pass it.</summary>
    private const int FilterMaxCandidatesPerK = 16;

    /// <summary>
    /// Filter, then select. If at least k values are ≥ t, the row's top k are all ≥ t; so a t that is the k-th largest
    /// of some disjoint groups' maxima (or just below it) lets one vector sweep gather, in index order, a few more than k
    /// candidates that are sure to contain the whole top k. The groups are vector lanes: one lane-wise max over a
    /// chunk of the row gives eight group maxima at once; about 4k groups make the bound tight (≈ 1.2k candidates on
    /// random data). The bound is found by bisection on vector counts of the maxima, and the exact top k of the
    /// candidates (ties → lower index) is taken in index order. Returns false, having written nothing, for a row with
    /// NaN or when too many values pass (ties, adversarial orderings); the heap then does the work.
    /// </summary>
    private static bool FilterTopK(ReadOnlySpan<float> values, int k, Span<int> indices, Span<float> selected)
    {
        if (!Vector256.IsHardwareAccelerated) return false;
        int n = values.Length;
        int chunks = Math.Max(1, (k + 1) / 2);
        int chunkLength = n / chunks & ~7;
        if (chunkLength < 8) return false;
        int capacity = Math.Min(n, FilterMaxCandidatesPerK * k);
        float[] rented = ArrayPool<float>.Shared.Rent(8 * chunks + 2 * capacity);
        int[] rentedIndices = ArrayPool<int>.Shared.Rent(capacity);
        try
        {
            ref float start = ref MemoryMarshal.GetReference(values);
            var maxima = rented.AsSpan(0, 8 * chunks);
            ref float maximaStart = ref MemoryMarshal.GetReference(maxima);
            var nan = Vector256<float>.Zero;
            var lowest = Vector256.Create(float.PositiveInfinity);
            var highest = Vector256.Create(float.NegativeInfinity);
            for (int c = 0; c < chunks; c++)
            {
                // Four independent accumulators (MaxNative: one instruction; NaN is caught separately) keep the
                // sweep at load speed; each lane of each accumulator is still a disjoint group of the row.
                int o = c * chunkLength, end = o + chunkLength;
                var m0 = Vector256.LoadUnsafe(ref start, (nuint)o);
                var m1 = m0;
                var m2 = m0;
                var m3 = m0;
                nan |= ~Vector256.Equals(m0, m0);
                int j = o + 8;
                for (; j + 32 <= end; j += 32)
                {
                    var v0 = Vector256.LoadUnsafe(ref start, (nuint)j);
                    var v1 = Vector256.LoadUnsafe(ref start, (nuint)(j + 8));
                    var v2 = Vector256.LoadUnsafe(ref start, (nuint)(j + 16));
                    var v3 = Vector256.LoadUnsafe(ref start, (nuint)(j + 24));
                    nan |= ~(Vector256.Equals(v0, v0) & Vector256.Equals(v1, v1) & Vector256.Equals(v2, v2) & Vector256.Equals(v3, v3));
                    m0 = Vector256.MaxNative(m0, v0);
                    m1 = Vector256.MaxNative(m1, v1);
                    m2 = Vector256.MaxNative(m2, v2);
                    m3 = Vector256.MaxNative(m3, v3);
                }
                for (; j < end; j += 8)
                {
                    var v = Vector256.LoadUnsafe(ref start, (nuint)j);
                    nan |= ~Vector256.Equals(v, v);
                    m0 = Vector256.MaxNative(m0, v);
                }
                var m = Vector256.MaxNative(Vector256.MaxNative(m0, m1), Vector256.MaxNative(m2, m3));
                m.StoreUnsafe(ref maximaStart, (nuint)(8 * c));
                lowest = Vector256.Min(lowest, m);
                highest = Vector256.Max(highest, m);
            }
            if (nan.ExtractMostSignificantBits() != 0) return false;
            for (int j = chunks * chunkLength; j < n; j++)
                if (float.IsNaN(values[j])) return false;

            // Largest t (to bisection precision) with at least k maxima ≥ t; lo always keeps that property.
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            for (int l = 0; l < 8; l++)
            {
                lo = Math.Min(lo, lowest[l]);
                hi = Math.Max(hi, highest[l]);
            }
            if (float.IsFinite(lo) && float.IsFinite(hi))
            {
                for (int step = 0; step < 16 && lo < hi; step++)
                {
                    float mid = lo + (hi - lo) * 0.5f;
                    if (mid <= lo || mid >= hi) break;
                    var vm = Vector256.Create(mid);
                    int atLeast = 0;
                    for (int c = 0; c < chunks; c++)
                        atLeast += System.Numerics.BitOperations.PopCount(
                            Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref maximaStart, (nuint)(8 * c)), vm).ExtractMostSignificantBits());
                    if (atLeast >= k) lo = mid;
                    else hi = mid;
                }
            }
            float t = lo;

            var candidates = rented.AsSpan(8 * chunks, capacity);
            var candidateIndices = rentedIndices.AsSpan(0, capacity);
            int count = 0;
            var threshold = Vector256.Create(t);
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                uint mask = Vector256.GreaterThanOrEqual(Vector256.LoadUnsafe(ref start, (nuint)i), threshold).ExtractMostSignificantBits();
                if (mask == 0) continue;
                if (count + System.Numerics.BitOperations.PopCount(mask) > capacity) return false;
                do
                {
                    int j = i + System.Numerics.BitOperations.TrailingZeroCount(mask);
                    candidates[count] = Unsafe.Add(ref start, j);
                    candidateIndices[count++] = j;
                    mask &= mask - 1;
                } while (mask != 0);
            }
            for (; i < n; i++)
            {
                if (values[i] < t) continue;
                if (count == capacity) return false;
                candidates[count] = values[i];
                candidateIndices[count++] = i;
            }

            // The exact k-th largest candidate value (the root of a size-k min-heap), then an in-order take of
            // everything above it and the first equal ones: the heap's rule (ties → lower index), indices ascending.
            float kth = count > k ? KthLargestOfFew(candidates[..count], k, rented.AsSpan(8 * chunks + capacity, capacity)) : float.NegativeInfinity;
            int greater = 0;
            for (int c = 0; c < count; c++) if (candidates[c] > kth) greater++;
            int equalNeeded = k - greater;
            int taken = 0;
            for (int c = 0; c < count && taken < k; c++)
            {
                float v = candidates[c];
                if (v > kth || (v == kth && equalNeeded-- > 0))
                {
                    indices[taken] = candidateIndices[c];
                    selected[taken++] = v;
                }
            }
            return true;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
            ArrayPool<int>.Shared.Return(rentedIndices);
        }
    }

    /// <summary>
    /// Row top-k of a rows×cols matrix: for every row the k largest entries; outputs are rows×k,
    /// indices ascending within a row.
    /// </summary>
    public static void RowTopK(ReadOnlySpan<float> matrix, int rows, int cols, int k, Span<int> indices, Span<float> selected)
    {
        CheckK(k, cols);
        CheckShape(matrix.Length, rows, cols);
        for (int r = 0; r < rows; r++)
            TopK(matrix.Slice(r * cols, cols), k, indices.Slice(r * k, k), selected.Slice(r * k, k));
    }

    /// <summary>
    /// Column top-m: for every column the m rows with the largest entries in that column; outputs are
    /// cols×m (row indices ascending within a column).
    /// </summary>
    public static void ColumnTopM(ReadOnlySpan<float> matrix, int rows, int cols, int m, Span<int> rowIndices, Span<float> selected)
    {
        CheckK(m, rows);
        CheckShape(matrix.Length, rows, cols);
        if (rowIndices.Length < (long)cols * m || selected.Length < (long)cols * m)
            throw new ArgumentException($"Outputs must hold cols × m = {(long)cols * m} elements.");
        const int block = 16;
        float[] buffer = ArrayPool<float>.Shared.Rent(Math.Max(1, rows * block));
        try
        {
            for (int c0 = 0; c0 < cols; c0 += block)
            {
                int w = Math.Min(block, cols - c0);
                for (int r = 0; r < rows; r++)
                {
                    var src = matrix.Slice(r * cols + c0, w);
                    for (int j = 0; j < w; j++) buffer[j * rows + r] = src[j];
                }
                for (int j = 0; j < w; j++)
                {
                    int c = c0 + j;
                    TopK(buffer.AsSpan(j * rows, rows), m, rowIndices.Slice(c * m, m), selected.Slice(c * m, m));
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>The K largest entries of the whole buffer (flat indices, ascending).</summary>
    public static int[] GlobalTopK(ReadOnlySpan<float> values, int k)
    {
        CheckK(k, values.Length);
        var indices = new int[k];
        var selected = new float[k];
        TopK(values, k, indices, selected);
        return indices;
    }

    /// <summary>
    /// The k-th largest value (1-based k) — the threshold a top-k selection keeps: exactly the values
    /// greater than it plus enough equal ones. Linear time (three-way quickselect on a copy).
    /// </summary>
    public static float KthLargest(ReadOnlySpan<float> values, int k)
    {
        if (k < 1 || k > values.Length) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} must be in 1..{values.Length}.");
        float[] copy = ArrayPool<float>.Shared.Rent(values.Length);
        try
        {
            values.CopyTo(copy);
            for (int i = 0; i < values.Length; i++) if (float.IsNaN(copy[i])) copy[i] = float.NegativeInfinity;
            return QuickSelectDescending(copy.AsSpan(0, values.Length), k - 1);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(copy);
        }
    }

    private static void CheckK(int k, int n)
    {
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} must be in 0..{n}.");
    }

    private static void CheckShape(int length, int rows, int cols)
    {
        if (rows < 0 || cols < 0 || (long)rows * cols > length)
            throw new ArgumentException($"A {rows}×{cols} matrix needs {(long)rows * cols} elements, got {length}.");
    }

    // (value, index) a is worse than b when it would lose: smaller value, or equal value and higher index.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Worse(float va, int ia, float vb, int ib) => va < vb || (va == vb && ia > ib) || (float.IsNaN(va) && !float.IsNaN(vb));

    /// <summary>
    /// The k-th largest of a few NaN-free values (with multiplicity) by a bounded heap: a min-heap of the k largest, or,
    /// when fewer values lie below the answer, a max-heap of the (n − k + 1) smallest. <paramref name="scratch"/> holds
    /// at least min(k, n − k + 1) values.
    /// </summary>
    private static float KthLargestOfFew(ReadOnlySpan<float> values, int k, Span<float> scratch)
    {
        int fromBottom = values.Length - k + 1;
        bool keepLargest = k <= fromBottom;
        int size = keepLargest ? k : fromBottom;
        var heap = scratch[..size];
        // A min-heap of the largest is a max-heap of the negated values; store negated values in that case.
        float sign = keepLargest ? -1f : 1f;
        for (int i = 0; i < size; i++) heap[i] = sign * values[i];
        for (int i = size / 2 - 1; i >= 0; i--) SiftDownMax(heap, i);
        for (int i = size; i < values.Length; i++)
        {
            float v = sign * values[i];
            if (v >= heap[0]) continue;
            heap[0] = v;
            SiftDownMax(heap, 0);
        }
        return sign * heap[0];
    }

    private static void SiftDownMax(Span<float> heap, int i)
    {
        int n = heap.Length;
        while (true)
        {
            int l = 2 * i + 1;
            if (l >= n) return;
            int larger = l + 1 < n && heap[l + 1] > heap[l] ? l + 1 : l;
            if (heap[larger] <= heap[i]) return;
            (heap[i], heap[larger]) = (heap[larger], heap[i]);
            i = larger;
        }
    }

    private static void HeapTopK(ReadOnlySpan<float> values, int k, Span<int> heapI, Span<float> heapV)
    {
        for (int i = 0; i < k; i++) { heapV[i] = values[i]; heapI[i] = i; }
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heapV, heapI, i, k);

        int n = values.Length;
        int j = k;
        ref float start = ref MemoryMarshal.GetReference(values);
        if (Vector256.IsHardwareAccelerated && !float.IsNaN(heapV[0]))
        {
            // Skip 8 values at a time while none beats the current worst kept value.
            while (j + 8 <= n)
            {
                var v = Vector256.LoadUnsafe(ref start, (nuint)j);
                if (!Vector256.GreaterThanAny(v, Vector256.Create(heapV[0]))) { j += 8; continue; }
                int end = j + 8;
                for (; j < end; j++) Offer(values[j], j, heapV, heapI, k);
            }
        }
        for (; j < n; j++) Offer(values[j], j, heapV, heapI, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offer(float v, int i, Span<float> heapV, Span<int> heapI, int k)
    {
        // Later indices lose ties, so only a strictly larger value (or any number over a NaN) enters.
        if (v > heapV[0] || (float.IsNaN(heapV[0]) && !float.IsNaN(v)))
        {
            heapV[0] = v;
            heapI[0] = i;
            SiftDown(heapV, heapI, 0, k);
        }
    }

    private static void SiftDown(Span<float> v, Span<int> idx, int i, int n)
    {
        while (true)
        {
            int l = 2 * i + 1;
            if (l >= n) return;
            int worst = l;
            int r = l + 1;
            if (r < n && Worse(v[r], idx[r], v[l], idx[l])) worst = r;
            if (!Worse(v[worst], idx[worst], v[i], idx[i])) return;
            (v[i], v[worst]) = (v[worst], v[i]);
            (idx[i], idx[worst]) = (idx[worst], idx[i]);
            i = worst;
        }
    }

    private static void ThresholdTopK(ReadOnlySpan<float> values, int k, Span<int> indices, Span<float> selected)
    {
        float t = KthLargest(values, k);
        int greater = 0;
        for (int i = 0; i < values.Length; i++) if (values[i] > t) greater++;
        int equalNeeded = k - greater;
        int o = 0;
        for (int i = 0; i < values.Length && o < k; i++)
        {
            float v = values[i];
            bool take = v > t || ((v == t || (float.IsNaN(v) && float.IsNegativeInfinity(t))) && equalNeeded-- > 0);
            if (take) { indices[o] = i; selected[o] = v; o++; }
        }
    }

    /// <summary>Returns the element that would be at position <paramref name="nth"/> in descending order.</summary>
    private static float QuickSelectDescending(Span<float> a, int nth)
    {
        int lo = 0, hi = a.Length - 1;
        while (true)
        {
            if (lo >= hi) return a[lo];
            int mid = lo + (hi - lo) / 2;
            float pivot = Median(a[lo], a[mid], a[hi]);
            // Three-way partition, descending: [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
            int lt = lo, gt = hi, i = lo;
            while (i <= gt)
            {
                float x = a[i];
                if (x > pivot) { (a[lt], a[i]) = (a[i], a[lt]); lt++; i++; }
                else if (x < pivot) { (a[i], a[gt]) = (a[gt], a[i]); gt--; }
                else i++;
            }
            if (nth < lt) hi = lt - 1;
            else if (nth > gt) lo = gt + 1;
            else return pivot;
        }
    }

    private static float Median(float a, float b, float c) =>
        a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
}
