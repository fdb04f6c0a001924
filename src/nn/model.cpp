#include "physfit/nn/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "physfit/error.hpp"
#include "physfit/util/memory.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::nn {

Model::Model(const ModelSpec& spec, const std::string& where)
    : spec_(spec), loss_(Loss::from_name(spec.loss, spec.margin, where)) {
  if (spec_.layers.empty()) throw UsageError(where + ": the model has no layers");
  if (spec_.input.size() <= 0) throw UsageError(where + ": the input shape is empty");
  Shape shape = spec_.input;
  for (const auto& text : spec_.layers) {
    for (auto& layer : make_layers(text, where)) {
      const int index = static_cast<int>(layers_.size());
      try {
        shape = layer->connect(shape, index);
      } catch (const UsageError& e) {
        throw UsageError(where + ": layer " + std::to_string(index) + " ('" + util::trim(text) +
                         "'): " + e.what());
      }
      layers_.push_back(std::move(layer));
    }
  }
  // A "relu" after a conv2d is done by the conv's store, and its mask, when a max-pool follows,
  // by the pool's backward: two passes over the largest activations fewer. The fusion belongs
  // to the evaluation, not to the model: the layer list, the specs, the parameter offsets and
  // the files still have a conv2d and a relu, and every result has the bits of the two layers
  // evaluated one after the other (ReLU is exact: max(0, x) and a mask).
  fused_.assign(layers_.size(), 0);
  masked_.assign(layers_.size(), 0);
  for (std::size_t i = 1; i < layers_.size(); ++i) {
    auto* conv = dynamic_cast<Conv2D*>(layers_[i - 1].get());
    if (conv == nullptr || layers_[i]->kind() != "relu") continue;
    conv->fuse_relu(true);
    fused_[i] = 1;
    if (i + 1 < layers_.size()) {
      if (auto* pool = dynamic_cast<MaxPool2D*>(layers_[i + 1].get())) {
        pool->mask_relu(true);
        masked_[i] = 1;
      }
    }
  }
  if (!shape.flat() && loss_.kind() != Loss::Kind::kSquared) {
    throw UsageError(where + ": the last layer gives " + shape.str() +
                     " per sample; end the model with a dense layer giving one score per class");
  }
  std::int64_t offset = 0;
  for (const auto& layer : layers_) {
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "%02d_%s/", layer->index(), layer->kind().c_str());
    for (TensorInfo t : layer->tensors()) {
      t.offset += offset;
      tensors_.push_back({layer->index(), prefix + t.name, t});
    }
    offset += layer->parameter_count();
  }
  // Parameters and gradients, 4 bytes each, checked before allocating.
  util::require_memory(8.0 * static_cast<double>(offset),
                       where + ": model.layers: the model's " + std::to_string(offset) +
                           " parameters (with their gradients)",
                       "use fewer or smaller layers");
  params_.assign(static_cast<std::size_t>(offset), 0.0f);
  grads_.assign(static_cast<std::size_t>(offset), 0.0f);
  offset = 0;
  for (const auto& layer : layers_) {
    layer->bind(params_.data() + offset, grads_.data() + offset);
    offset += layer->parameter_count();
  }
}

std::vector<std::string> Model::layer_specs() const {
  std::vector<std::string> out;
  for (const auto& l : layers_) out.push_back(l->spec());
  return out;
}

void Model::initialize(std::uint64_t seed) {
  for (const auto& l : layers_) l->initialize(seed);
}

void Model::reserve(int n) {
  if (n <= reserved_) return;
  acts_.resize(layers_.size());
  out_.resize(layers_.size());
  std::int64_t largest = spec_.input.size();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::int64_t size = layers_[i]->output_shape().size();
    if (fused_[i]) {
      acts_[i] = Buffer<float>();
      out_[i] = out_[i - 1];
    } else {
      acts_[i].assign(static_cast<std::size_t>(size * n), 0.0f);
      out_[i] = acts_[i].data();
    }
    largest = std::max(largest, size);
    layers_[i]->reserve(n);
  }
  delta_a_.assign(static_cast<std::size_t>(largest * n), 0.0f);
  delta_b_.assign(static_cast<std::size_t>(largest * n), 0.0f);
  reserved_ = n;
}

const float* Model::forward(const float* x, int n, const Pass& pass) {
  if (n > reserved_) reserve(n);
  const float* in = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!fused_[i]) layers_[i]->forward(in, out_[i], n, pass);
    in = out_[i];
  }
  return in;
}

void Model::backward(const float* x, const float* dscores, int n, const Pass& pass) {
  const float* dy = dscores;
  float* buffers[2] = {delta_a_.data(), delta_b_.data()};
  int next = 0;
  // Layers before the first one with parameters need no gradient: the first trainable layer
  // computes no input gradient (for the MLP, the 784 x 512 product it would cost).
  std::size_t first = 0;
  while (first + 1 < layers_.size() && layers_[first]->parameter_count() == 0) ++first;
  for (std::size_t k = layers_.size(); k-- > first;) {
    if (masked_[k]) continue;  // the max-pool after it applied the ReLU's mask
    const float* in = k == 0 ? x : out_[k - 1];
    float* dx = k == first ? nullptr : buffers[next];
    layers_[k]->backward(in, out_[k], dy, dx, n, pass);
    dy = dx;
    next ^= 1;
  }
}

double Model::weight_square_sum() const {
  double sum = 0;
  for (const auto& t : tensors_) {
    if (!t.info.weight) continue;
    for (std::int64_t i = t.info.offset; i < t.info.offset + t.info.count; ++i) {
      sum += static_cast<double>(params_[static_cast<std::size_t>(i)]) *
             params_[static_cast<std::size_t>(i)];
    }
  }
  return sum;
}

// ---------------------------------------------------------------------------- save / load

void save_model(const io::File& file, const Model& model, const std::string& group) {
  const io::Group g = file.create_group(group);
  const ModelSpec& spec = model.spec();
  io::set_attribute(g.id(), "layers", util::join(model.layer_specs(), ", "));
  io::set_attribute(g.id(), "input_shape",
                    std::vector<std::int64_t>{spec.input.h, spec.input.w, spec.input.c});
  io::set_attribute(g.id(), "loss", model.loss().name());
  io::set_attribute(g.id(), "margin", spec.margin);
  io::set_attribute(g.id(), "l2", spec.l2);
  io::set_attribute(g.id(), "outputs", static_cast<std::int64_t>(model.outputs()));
  io::set_attribute(g.id(), "parameter_count", model.parameter_count());
  const std::vector<float> all(model.parameters(), model.parameters() + model.parameter_count());
  file.create_dataset<float>(group + "/parameters", {model.parameter_count()}, "dimensionless")
      .write_all(all);
  for (const auto& t : model.tensors()) {
    const std::vector<float> values(model.parameters() + t.info.offset,
                                    model.parameters() + t.info.offset + t.info.count);
    file.create_dataset<float>(group + "/layers/" + t.name, t.info.shape, "dimensionless")
        .write_all(values);
  }
}

ModelSpec load_model_spec(const io::File& file, const std::string& group) {
  if (!file.exists(group)) {
    throw IoError("'" + file.path() + "' holds no model (no group '" + group +
                  "'); give a file written by 'physfit train'");
  }
  const io::Group g = file.group(group);
  ModelSpec spec;
  spec.layers = util::split(io::get_string_attribute(g.id(), "layers"), ',');
  const auto shape = io::get_numeric_attribute(g.id(), "input_shape");
  if (shape.size() != 3) {
    throw IoError("'" + file.path() + "': attribute input_shape of '" + group +
                  "' must have 3 values (h, w, c)");
  }
  spec.input = {static_cast<int>(shape[0]), static_cast<int>(shape[1]), static_cast<int>(shape[2])};
  spec.loss = io::get_string_attribute(g.id(), "loss");
  spec.margin = io::get_numeric_attribute(g.id(), "margin").at(0);
  spec.l2 = io::get_numeric_attribute(g.id(), "l2").at(0);
  return spec;
}

std::unique_ptr<Model> load_model(const io::File& file, const std::string& group) {
  const ModelSpec spec = load_model_spec(file, group);
  std::unique_ptr<Model> model;
  try {
    model = std::make_unique<Model>(spec, "'" + file.path() + "' " + group);
  } catch (const UsageError& e) {
    throw IoError(e.what());
  }
  const io::Dataset d = file.dataset(group + "/parameters");
  d.require_shape({model->parameter_count()});
  d.read_rows(0, model->parameter_count(), model->parameters());
  const float* p = model->parameters();
  for (std::int64_t i = 0; i < model->parameter_count(); ++i) {
    if (std::isfinite(p[i])) continue;
    std::string tensor;
    for (const auto& t : model->tensors()) {
      if (i >= t.info.offset && i < t.info.offset + t.info.count) tensor = t.name;
    }
    throw IoError("dataset '" + group + "/parameters' in '" + file.path() + "': parameter " +
                  std::to_string(i) +
                  (tensor.empty() ? "" : " (" + group + "/layers/" + tensor + ")") + " is " +
                  std::to_string(p[i]) +
                  "; a model with a non-finite parameter cannot evaluate anything: retrain it, or "
                  "resume from an earlier checkpoint");
  }
  return model;
}

}  // namespace physfit::nn
