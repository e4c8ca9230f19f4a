// lepton_codecs.h: one-call decoders for the encapsulated DICOM codestreams (JPEG, JPEG-LS,
// JPEG 2000). Every call returns 0 on success or a nonzero code with a one-line reason in
// `message` (256 bytes); no library error ever exits, throws or longjmps out of these functions.
//
// The caller checks the codestream's dimensions against the DICOM header BEFORE calling (see
// DICOMCodestream.swift), sizes `out` for exactly rows x columns x samples x bytes_per_sample,
// and the decoders refuse a codestream whose frame does not fit that buffer.
#ifndef LEPTON_CODECS_H
#define LEPTON_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// JPEG processes 1, 2/4 and 14 (baseline, extended 12-bit, lossless) through DCMTK's IJG 8/12/16-bit
/// codecs, chosen by `precision` (the SOF's sample precision). Samples are written interleaved by
/// pixel, one byte each for precision <= 8, else two bytes in host order.
/// `convert_ycbcr`: 0 keeps the stored colour samples (YBR stays YBR), 1 lets libjpeg convert a
/// lossy YCbCr stream to RGB (for files that declare RGB but carry JFIF YCbCr).
int lepton_jpeg_decode(const uint8_t *data, size_t size, int precision, int convert_ycbcr,
                       uint8_t *out, size_t out_size, char *message);

/// JPEG-LS (lossless and near-lossless) through CharLS. `*planar` is set to 1 when the stream is
/// not interleaved (the output is then plane by plane), else 0.
int lepton_jpegls_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                         int *planar, char *message);

/// JPEG 2000 (raw codestream or JP2 file) through OpenJPEG. Samples are written interleaved by
/// pixel as `bytes_per_sample` little-endian bytes of each (possibly signed) value.
/// `max_tiles` bounds the tile grid the header may claim (OpenJPEG allocates per tile).
int lepton_j2k_decode(const uint8_t *data, size_t size, int bytes_per_sample, int max_tiles,
                      uint8_t *out, size_t out_size, char *message);

#ifdef __cplusplus
}
#endif
#endif
