// Real spherical harmonics of degree 4 (16 values) of a unit direction, with tcnn's constants.
// Specification: engine/nn/reference.py sh_encode().

#ifndef NGVK_SH_ENCODING_GLSL
#define NGVK_SH_ENCODING_GLSL

#define SH_OUTPUTS 16

void sh_encode(vec3 d, out float sh[SH_OUTPUTS]) {
    float x = d.x, y = d.y, z = d.z;
    float xy = x * y, xz = x * z, yz = y * z, x2 = x * x, y2 = y * y, z2 = z * z;
    sh[0] = 0.28209479177387814;
    sh[1] = -0.48860251190291987 * y;
    sh[2] = 0.48860251190291987 * z;
    sh[3] = -0.48860251190291987 * x;
    sh[4] = 1.0925484305920792 * xy;
    sh[5] = -1.0925484305920792 * yz;
    sh[6] = 0.94617469575755997 * z2 - 0.31539156525251999;
    sh[7] = -1.0925484305920792 * xz;
    sh[8] = 0.54627421529603959 * x2 - 0.54627421529603959 * y2;
    sh[9] = 0.59004358992664352 * y * (-3.0 * x2 + y2);
    sh[10] = 2.8906114426405538 * xy * z;
    sh[11] = 0.45704579946446572 * y * (1.0 - 5.0 * z2);
    sh[12] = 0.3731763325901154 * z * (5.0 * z2 - 3.0);
    sh[13] = 0.45704579946446572 * x * (1.0 - 5.0 * z2);
    sh[14] = 1.4453057213202769 * z * (x2 - y2);
    sh[15] = 0.59004358992664352 * x * (-x2 + 3.0 * y2);
}

#endif
