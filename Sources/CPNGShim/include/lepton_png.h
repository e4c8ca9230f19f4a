// lepton_png.h: libpng calls wrapped so that libpng's longjmp error path never crosses Swift frames.
//
// Every libpng call runs inside a C function that owns the setjmp; an error (corrupt data, CRC,
// truncation, limits) returns a code and a message instead of unwinding through Swift.
#ifndef LEPTON_PNG_H
#define LEPTON_PNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result codes of lepton_png_decode / lepton_png_encode.
enum {
    LEPTON_PNG_OK = 0,
    LEPTON_PNG_ERR_LIBPNG = 1,     ///< libpng reported corrupt data (message says what)
    LEPTON_PNG_ERR_SIGNATURE = 2,  ///< not a PNG signature
    LEPTON_PNG_ERR_TOO_LARGE = 3,  ///< dimensions or pixel count beyond the limits
    LEPTON_PNG_ERR_NOMEM = 4,      ///< allocation failed
    LEPTON_PNG_ERR_TRUNCATED = 5,  ///< the data ended early
    LEPTON_PNG_ERR_ARGUMENT = 6    ///< bad arguments (encode)
};

/// Bounds checked against IHDR before anything is allocated.
typedef struct {
    uint32_t max_width;
    uint32_t max_height;
    uint64_t max_pixels;       ///< width * height
    uint64_t max_chunk_bytes;  ///< largest ancillary chunk / decompressed text libpng may allocate
} lepton_png_limits;

/// A decoded image: rows of `width * channels` samples, `sample_bytes` each (16-bit big-endian).
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;       ///< bit depth stored in the file (1, 2, 4, 8, 16)
    int color_type;      ///< PNG colour type in the file (0, 2, 3, 4, 6)
    int interlaced;      ///< 1 for Adam7
    int has_trns;        ///< 1 if a tRNS chunk was turned into an alpha channel
    int channels;        ///< channels delivered (1..4)
    int sample_bytes;    ///< 1 or 2
    int value_bits;      ///< delivered samples range over 0 ... 2^value_bits - 1
    uint8_t *pixels;     ///< malloc'd; free with lepton_png_free
    char message[256];   ///< error text when the result is not LEPTON_PNG_OK
} lepton_png_image;

/// Decodes a whole PNG held in memory. On any result other than LEPTON_PNG_OK, `out->pixels` is NULL.
int lepton_png_decode(const uint8_t *data, size_t size, const lepton_png_limits *limits, lepton_png_image *out);

/// A PNG decoded to one gray plane and box-reduced while reading, so memory stays bounded by the
/// output size whatever the declared dimensions (one row of the file at a time, Adam7 included).
typedef struct {
    uint32_t width;        ///< the file's width
    uint32_t height;       ///< the file's height
    int bit_depth;
    int color_type;
    int interlaced;
    uint32_t factor;       ///< each output pixel is the mean of a factor x factor block (1 = full size)
    uint32_t out_width;    ///< ceil(width / factor)
    uint32_t out_height;   ///< ceil(height / factor)
    float *pixels;         ///< out_height rows of out_width gray values in [0, 1]; free with lepton_png_free_gray
    char message[256];
} lepton_png_gray;

/// Decodes to gray in [0, 1] (gray: the sample; gray+alpha: the gray sample; colour: BT.601 luma,
/// alpha ignored; samples divided by their maximum 2^bits - 1), reduced by the smallest integer
/// factor that makes both sides at most `max_side`. Same limits and result codes as lepton_png_decode.
int lepton_png_decode_gray(const uint8_t *data, size_t size, const lepton_png_limits *limits, uint32_t max_side,
                           lepton_png_gray *out);

void lepton_png_free_gray(lepton_png_gray *image);

/// Frees the pixels of a decoded image (safe on a zeroed struct).
void lepton_png_free(lepton_png_image *image);

/// Encodes `height` rows of `width * channels` samples (bit_depth 8, or 16 big-endian) as PNG.
/// channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. On success `*out` is malloc'd (free with lepton_png_free_buffer).
int lepton_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                      int compression_level, uint8_t **out, size_t *out_size, char message[256]);

void lepton_png_free_buffer(uint8_t *buffer);

#ifdef __cplusplus
}
#endif
#endif
