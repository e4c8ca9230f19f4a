// lepton_png.c: see lepton_png.h. All setjmp/longjmp traffic stays inside this file.

#include "lepton_png.h"

// No fused multiply-add: the gray values must round like the Swift code they mirror.
#pragma STDC FP_CONTRACT OFF

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
    int truncated;
    char *message;  // points into the caller's 256-byte buffer
} reader_state;

static void copy_message(char *dst, const char *src) {
    if (dst == NULL) return;
    snprintf(dst, 256, "%s", src ? src : "unknown libpng error");
}

// libpng calls this on a fatal error; it must not return, so it jumps back to our setjmp.
static void on_error(png_structp png, png_const_charp msg) {
    reader_state *state = (reader_state *)png_get_error_ptr(png);
    if (state && state->message && state->message[0] == 0) copy_message(state->message, msg);
    png_longjmp(png, 1);
}

// Warnings (e.g. a bad CRC in an ancillary chunk, which libpng then skips) are not printed.
static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    reader_state *state = (reader_state *)png_get_io_ptr(png);
    if (length > state->size - state->pos) {
        state->truncated = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(out, state->data + state->pos, length);
    state->pos += length;
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void lepton_png_free(lepton_png_image *image) {
    if (image && image->pixels) {
        free(image->pixels);
        image->pixels = NULL;
    }
}

/// The checks made before libpng allocates anything: the signature, a 13-byte IHDR first, and
/// the declared size against the limits (decompression bombs declare huge sizes). Returns
/// LEPTON_PNG_OK or an error code with `message` filled; `*w`, `*h` are the declared size.
static int check_signature_and_size(const uint8_t *data, size_t size, const lepton_png_limits *limits, char *message,
                                    uint32_t *w, uint32_t *h) {
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        copy_message(message, size < 8 ? "shorter than the PNG signature" : "the PNG signature is missing");
        return LEPTON_PNG_ERR_SIGNATURE;
    }
    if (size < 33) {
        copy_message(message, "the data ends inside the IHDR chunk");
        return LEPTON_PNG_ERR_TRUNCATED;
    }
    if (be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0) {
        copy_message(message, "the first chunk is not a 13-byte IHDR");
        return LEPTON_PNG_ERR_LIBPNG;
    }
    *w = be32(data + 16);
    *h = be32(data + 20);
    if (*w > limits->max_width || *h > limits->max_height || (uint64_t)*w * (uint64_t)*h > limits->max_pixels) {
        snprintf(message, 256, "IHDR declares %u x %u pixels; limits are %u x %u and %llu pixels", *w, *h,
                 limits->max_width, limits->max_height, (unsigned long long)limits->max_pixels);
        return LEPTON_PNG_ERR_TOO_LARGE;
    }
    return LEPTON_PNG_OK;
}

/// Creates libpng's reader and info structs reading through `state`; on failure fills `message`
/// and returns LEPTON_PNG_ERR_NOMEM (nothing is left allocated).
static int create_reader(reader_state *state, char *message, png_structp *png, png_infop *info) {
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, on_error, on_warning);
    if (!*png) {
        copy_message(message, "cannot create the libpng reader");
        return LEPTON_PNG_ERR_NOMEM;
    }
    *info = png_create_info_struct(*png);
    if (!*info) {
        png_destroy_read_struct(png, NULL, NULL);
        copy_message(message, "cannot create the libpng info struct");
        return LEPTON_PNG_ERR_NOMEM;
    }
    return LEPTON_PNG_OK;
}

/// What both decoders learn from the header, after the transforms they share are set.
typedef struct {
    png_uint_32 width, height;
    int bit_depth, color_type, interlaced, has_trns;
    int value_bits;  ///< significant bits per sample after the transforms (16, 8, or 1/2/4 for unpacked gray)
} header_info;

/// Reads the header with the limits applied and sets the transforms both decoders use: palette
/// to 8-bit RGB, tRNS to alpha (which also expands sub-byte gray), otherwise sub-byte gray
/// unpacked to one sample per byte with values kept at 0 ... 2^bit_depth - 1. libpng's errors
/// longjmp to the caller's setjmp, so call it only after that is set.
static header_info read_header_and_set_transforms(png_structp png, png_infop info, const lepton_png_limits *limits) {
    png_set_user_limits(png, limits->max_width, limits->max_height);
    png_set_chunk_cache_max(png, 1000);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)limits->max_chunk_bytes);
    png_read_info(png, info);

    header_info h = {0};
    int interlace = 0;
    png_get_IHDR(png, info, &h.width, &h.height, &h.bit_depth, &h.color_type, &interlace, NULL, NULL);
    h.interlaced = interlace != PNG_INTERLACE_NONE;
    h.value_bits = h.bit_depth == 16 ? 16 : 8;
    if (h.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
        h.has_trns = 1;
    } else if (h.color_type == PNG_COLOR_TYPE_GRAY && h.bit_depth < 8) {
        png_set_packing(png);
        h.value_bits = h.bit_depth;
    }
    return h;
}

int lepton_png_decode(const uint8_t *data, size_t size, const lepton_png_limits *limits, lepton_png_image *out) {
    memset(out, 0, sizeof(*out));
    uint32_t w = 0, h = 0;
    int checked = check_signature_and_size(data, size, limits, out->message, &w, &h);
    if (checked != LEPTON_PNG_OK) {
        out->width = w;
        out->height = h;
        return checked;
    }

    reader_state state = {data, size, 0, 0, out->message};
    png_structp png = NULL;
    png_infop info = NULL;
    int created = create_reader(&state, out->message, &png, &info);
    if (created != LEPTON_PNG_OK) return created;
    // Volatile: these change after setjmp and are read after a longjmp.
    png_bytep *volatile rows = NULL;
    uint8_t *volatile pixels = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        out->pixels = NULL;
        return state.truncated ? LEPTON_PNG_ERR_TRUNCATED : LEPTON_PNG_ERR_LIBPNG;
    }
    png_set_read_fn(png, &state, read_from_memory);
    header_info hdr = read_header_and_set_transforms(png, info, limits);
    png_uint_32 width = hdr.width, height = hdr.height;
    out->width = width;
    out->height = height;
    out->bit_depth = hdr.bit_depth;
    out->color_type = hdr.color_type;
    out->interlaced = hdr.interlaced;
    out->has_trns = hdr.has_trns;
    int value_bits = hdr.value_bits;
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int sample_bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    if (rowbytes != (size_t)width * (size_t)channels * (size_t)sample_bytes) {
        png_error(png, "unexpected row layout after transforms");
    }
    if (height != 0 && rowbytes > SIZE_MAX / height) png_error(png, "image too large for memory");
    pixels = (uint8_t *)malloc(rowbytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->channels = channels;
    out->sample_bytes = sample_bytes;
    out->value_bits = value_bits;
    out->pixels = pixels;
    return LEPTON_PNG_OK;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    char *message;
} writer_state;

static void write_error(png_structp png, png_const_charp msg) {
    writer_state *state = (writer_state *)png_get_error_ptr(png);
    if (state && state->message && state->message[0] == 0) copy_message(state->message, msg);
    png_longjmp(png, 1);
}

static void write_to_memory(png_structp png, png_bytep bytes, png_size_t length) {
    writer_state *state = (writer_state *)png_get_io_ptr(png);
    if (length > SIZE_MAX - state->size) png_error(png, "output too large");
    if (state->size + length > state->capacity) {
        size_t capacity = state->capacity ? state->capacity : 4096;
        while (capacity < state->size + length) capacity = capacity > SIZE_MAX / 2 ? SIZE_MAX : capacity * 2;
        uint8_t *grown = (uint8_t *)realloc(state->data, capacity);
        if (!grown) png_error(png, "out of memory");
        state->data = grown;
        state->capacity = capacity;
    }
    memcpy(state->data + state->size, bytes, length);
    state->size += length;
}

static void flush_memory(png_structp png) { (void)png; }

void lepton_png_free_buffer(uint8_t *buffer) { free(buffer); }

int lepton_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                      int compression_level, uint8_t **out, size_t *out_size, char message[256]) {
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    static const int types[5] = {-1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu || channels < 1 || channels > 4 ||
        (bit_depth != 8 && bit_depth != 16) || pixels == NULL) {
        copy_message(message, "encode: width/height must be positive, channels 1-4, bit depth 8 or 16");
        return LEPTON_PNG_ERR_ARGUMENT;
    }
    writer_state state = {NULL, 0, 0, message};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, write_error, on_warning);
    if (!png) return LEPTON_PNG_ERR_NOMEM;
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return LEPTON_PNG_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(state.data);
        png_destroy_write_struct(&png, &info);
        return LEPTON_PNG_ERR_LIBPNG;
    }
    png_set_write_fn(png, &state, write_to_memory, flush_memory);
    png_set_compression_level(png, compression_level < 0 ? 6 : (compression_level > 9 ? 9 : compression_level));
    png_set_IHDR(png, info, width, height, bit_depth, types[channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t rowbytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *out = state.data;
    *out_size = state.size;
    return LEPTON_PNG_OK;
}

// MARK: gray, reduced while reading

void lepton_png_free_gray(lepton_png_gray *image) {
    if (image && image->pixels) {
        free(image->pixels);
        image->pixels = NULL;
    }
}

// Adam7 pass geometry (PNG spec 8.2): first row/column and steps of passes 1-7.
static const uint32_t adam7_x0[7] = {0, 4, 0, 2, 0, 1, 0}, adam7_dx[7] = {8, 8, 4, 4, 2, 2, 1};
static const uint32_t adam7_y0[7] = {0, 0, 4, 0, 2, 0, 1}, adam7_dy[7] = {8, 8, 8, 4, 4, 2, 2};

int lepton_png_decode_gray(const uint8_t *data, size_t size, const lepton_png_limits *limits, uint32_t max_side,
                           lepton_png_gray *out) {
    memset(out, 0, sizeof(*out));
    if (max_side == 0) max_side = 1;
    uint32_t w = 0, h = 0;
    int checked = check_signature_and_size(data, size, limits, out->message, &w, &h);
    if (checked != LEPTON_PNG_OK) {
        out->width = w;
        out->height = h;
        return checked;
    }

    reader_state state = {data, size, 0, 0, out->message};
    png_structp png = NULL;
    png_infop info = NULL;
    int created = create_reader(&state, out->message, &png, &info);
    if (created != LEPTON_PNG_OK) return created;
    uint8_t *volatile row = NULL;
    double *volatile sums = NULL;
    uint32_t *volatile counts = NULL;
    float *volatile pixels = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        free(sums);
        free(counts);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        out->pixels = NULL;
        return state.truncated ? LEPTON_PNG_ERR_TRUNCATED : LEPTON_PNG_ERR_LIBPNG;
    }
    png_set_read_fn(png, &state, read_from_memory);
    header_info hdr = read_header_and_set_transforms(png, info, limits);
    png_uint_32 width = hdr.width, height = hdr.height;
    out->width = width;
    out->height = height;
    out->bit_depth = hdr.bit_depth;
    out->color_type = hdr.color_type;
    out->interlaced = hdr.interlaced;
    int value_bits = hdr.value_bits;
    // No png_set_interlace_handling: interlaced files arrive pass by pass as sub-images, and each
    // sample is placed by the Adam7 geometry, so no full-size buffer is ever needed.
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int sample_bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)width * (size_t)channels * (size_t)sample_bytes) {
        png_error(png, "unexpected row layout after transforms");
    }
    uint32_t factor = 1;
    while ((width + factor - 1) / factor > max_side || (height + factor - 1) / factor > max_side) factor++;
    uint32_t ow = (width + factor - 1) / factor, oh = (height + factor - 1) / factor;
    row = (uint8_t *)malloc(rowbytes ? rowbytes : 1);
    sums = (double *)calloc((size_t)ow * oh, sizeof(double));
    counts = (uint32_t *)calloc((size_t)ow * oh, sizeof(uint32_t));
    pixels = (float *)malloc(sizeof(float) * (size_t)ow * oh);
    if (!row || !sums || !counts || !pixels) png_error(png, "out of memory");

    // Float arithmetic in the order of PNGImage.normalized + PlanarImage.grayscale(), so that at
    // factor 1 the values equal the full decoder's bit for bit.
    const float scale = 1.0f / (float)((1u << value_bits) - 1);
    int passes = hdr.interlaced ? 7 : 1;
    for (int pass = 0; pass < passes; pass++) {
        uint32_t x0 = 0, dx = 1, y0 = 0, dy = 1;
        if (passes == 7) {
            x0 = adam7_x0[pass]; dx = adam7_dx[pass]; y0 = adam7_y0[pass]; dy = adam7_dy[pass];
        }
        uint32_t cols = width > x0 ? (width - x0 + dx - 1) / dx : 0;
        uint32_t rows = height > y0 ? (height - y0 + dy - 1) / dy : 0;
        if (cols == 0 || rows == 0) continue;  // libpng skips empty passes too
        for (uint32_t r = 0; r < rows; r++) {
            png_read_row(png, row, NULL);
            uint32_t y = y0 + r * dy;
            double *srow = sums + (size_t)(y / factor) * ow;
            uint32_t *crow = counts + (size_t)(y / factor) * ow;
            for (uint32_t c = 0; c < cols; c++) {
                const uint8_t *p = row + (size_t)c * channels * sample_bytes;
                float v[3];
                int used = channels >= 3 ? 3 : 1;
                for (int k = 0; k < used; k++) {
                    v[k] = (float)(sample_bytes == 2 ? ((p[2 * k] << 8) | p[2 * k + 1]) : p[k]) * scale;
                }
                float g = v[0];
                if (used == 3) {
                    float r = 0.299f * v[0], gg = 0.587f * v[1], b = 0.114f * v[2];
                    float rg = r + gg;
                    g = rg + b;
                }
                uint32_t ox = (x0 + c * dx) / factor;
                srow[ox] += (double)g;
                crow[ox] += 1;
            }
        }
    }
    png_read_end(png, NULL);
    for (size_t i = 0; i < (size_t)ow * oh; i++) pixels[i] = counts[i] ? (float)(sums[i] / counts[i]) : 0.0f;
    free(row);
    free(sums);
    free(counts);
    png_destroy_read_struct(&png, &info, NULL);
    out->factor = factor;
    out->out_width = ow;
    out->out_height = oh;
    out->pixels = pixels;
    return LEPTON_PNG_OK;
}
